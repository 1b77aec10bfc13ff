package web

import (
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/text/number"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
)

// figuresData is a year's figures as charts with tables.
type figuresData struct {
	Year       int
	YearText   string
	Prev, Next int
	Submitted  string
	Charts     []chart
	Threshold  int
	Intro      string
	NavLabel   string
	PrevLabel  string
	NextLabel  string
	Notes      []string // shares and medians, where the service published them
}

// yearParam reads ?year=, defaulting to this year in the office's zone.
func (h *handler) yearParam(r *http.Request) int {
	y, err := strconv.Atoi(r.URL.Query().Get("year"))
	if err != nil || y < 1971 || y > service.MaxStatsYear {
		y = h.svc.Now().In(h.loc).Year()
	}
	return y
}

func (h *handler) figuresFor(r *http.Request, v *visit, year int) (*figuresData, error) {
	st, err := h.svc.YearStats(r.Context(), v.actor, year)
	if err != nil {
		return nil, err
	}
	// shown is a count as the page prints it: a number, "<5", or the
	// word for a hidden one in the page's language.
	shown := func(c service.Count) string {
		if !c.Shown() && !strings.HasPrefix(c.String(), "<") {
			return v.T("suppressed")
		}
		return c.String()
	}
	d := &figuresData{Year: year, YearText: strconv.Itoa(year), Prev: year - 1, Next: year + 1, Submitted: shown(st.Submitted), Threshold: st.Suppression,
		NavLabel: v.T("Years"), PrevLabel: "← " + strconv.Itoa(year-1), NextLabel: strconv.Itoa(year+1) + " →"}
	d.Intro = v.T("Memos submitted in %s: %s. Counts below %d are hidden as “<%d” so that no one can be singled out; where one hidden count could be worked out from the others, a second one is hidden too.",
		d.YearText, d.Submitted, d.Threshold, d.Threshold)
	appeals := h.svc.Config().Profile.Appeals()
	var states []figure
	for _, s := range channel.States {
		if s == channel.Appealed && !appeals {
			continue // a state this policy never reaches
		}
		if c, ok := st.States[string(s)]; ok {
			states = append(states, figure{Label: v.T(stateNames[string(s)]), Count: shown(c)})
		}
	}
	cells := func(m map[string]service.Count, labels ...string) []figure {
		var out []figure
		for i := 0; i+1 < len(labels); i += 2 {
			out = append(out, figure{Label: v.T(labels[i+1]), Count: shown(m[labels[i]])})
		}
		return out
	}
	var bands []figure
	for _, b := range []string{"1", "2-5", "6-20", "21-50", "51+"} {
		label := v.T("%s authors", b)
		if b == "1" {
			label = v.T("1 author")
		}
		bands = append(bands, figure{Label: label, Count: shown(st.SignerBands[b])})
	}
	d.Charts = []chart{
		newChart("states", v.T("Memos submitted in %s, by where they are now", d.YearText), states),
		newChart("ack", v.T("Acknowledgements given"), cells(st.Acknowledged, "on_time", "On time", "late", "Late", "ended_before_due", "Ended before it was due")),
		newChart("ack-owed", v.T("Acknowledgements still owed"), cells(st.AwaitingAcknowledgement, "within_deadline", "Not yet due", "overdue", "Overdue")),
		newChart("reply", v.T("Substantive replies given"), cells(st.Replied,
			"on_time", "On time", "within_latest", "By the latest date", "late", "Late", "ended_before_due", "Ended before it was due")),
		newChart("reply-owed", v.T("Replies still owed"), cells(st.AwaitingReply, "within_deadline", "Not yet due", "overdue", "Overdue")),
	}
	if appeals {
		d.Charts = append(d.Charts,
			newChart("appeal", v.T("Decisions on appeal given (appeals made: %s)", shown(st.AppealsMade)), cells(st.Appeals, "on_time", "On time", "late", "Late")),
			newChart("appeal-owed", v.T("Decisions on appeal still owed"), cells(st.AwaitingAppeal, "within_deadline", "Not yet due", "overdue", "Overdue")))
	}
	d.Charts = append(d.Charts, newChart("bands", v.T("Memos by number of authors"), bands))
	if p := st.AcknowledgedOnTimeShare; p != nil {
		d.Notes = append(d.Notes, v.T("Acknowledged on time: %s.", v.Percent(*p)))
	}
	if p := st.RepliedOnTimeShare; p != nil {
		d.Notes = append(d.Notes, v.T("Replied on time: %s.", v.Percent(*p)))
	}
	if p := st.RepliedByLatestShare; p != nil {
		d.Notes = append(d.Notes, v.T("Replied by the latest date: %s.", v.Percent(*p)))
	}
	if st.SignerBandsAfter != nil {
		d.Notes = append(d.Notes, v.T("Memos by number of authors are shown from %s, an hour after the year's end: two sets of figures taken during it would differ by single memos.", v.DateTime(*st.SignerBandsAfter)))
	}
	if m := st.MedianWorkdaysToReply; m != nil {
		d.Notes = append(d.Notes, v.T("Half the replies came within %s working days.", v.p.Sprint(number.Decimal(*m, number.MaxFractionDigits(1)))))
	}
	return d, nil
}

func (h *handler) figures(w http.ResponseWriter, r *http.Request, v *visit) {
	d, err := h.figuresFor(r, v, h.yearParam(r))
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.render(w, r, v, http.StatusOK, pageFigures, &view{Title: v.T("Figures"), Data: d})
}

// auditData is the auditor's page: the ledger and this year's figures.
type auditData struct {
	Ledger  *service.LedgerStatus
	Figures *figuresData
}

func (h *handler) audit(w http.ResponseWriter, r *http.Request, v *visit) {
	st, err := h.svc.LedgerStatus(r.Context(), v.actor)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	d := auditData{Ledger: st}
	if d.Figures, err = h.figuresFor(r, v, h.yearParam(r)); err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.render(w, r, v, http.StatusOK, pageAudit, &view{Title: v.T("Ledger"), Data: d})
}

func (h *handler) checkLedger(w http.ResponseWriter, r *http.Request, v *visit) {
	if _, err := h.svc.CheckLedger(r.Context(), v.actor); err != nil {
		h.fail(w, r, v, err)
		return
	}
	redirect(w, r, "/audit", flashChecked)
}

// auditAccess shows a memo's access log to an auditor who typed its id.
func (h *handler) auditAccess(w http.ResponseWriter, r *http.Request, v *visit) {
	h.showAccess(w, r, v, r.URL.Query().Get("memo"), true)
}
