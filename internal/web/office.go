package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/workdays"
)

// dueInfo says how near a deadline is, in words and as a style class.
type dueInfo struct {
	At    time.Time
	Class string // "overdue", "today" or "later"
	Text  string
}

// due describes the deadline at as seen at now, counting working days on
// the office's calendar.
func (h *handler) due(v *visit, at, now time.Time) *dueInfo {
	cal := h.svc.Config().Calendar
	d := &dueInfo{At: at}
	switch {
	case now.After(at):
		d.Class = "overdue"
		if n := cal.WorkdaysBetween(at, now); n > 0 {
			d.Text = v.T("Overdue by %d working days", n)
		} else {
			d.Text = v.T("Overdue")
		}
	case workdays.DateOf(now.In(h.loc)) == workdays.DateOf(at.In(h.loc)):
		d.Class, d.Text = "today", v.T("Due today")
	case workdays.DateOf(now.In(h.loc).AddDate(0, 0, 1)) == workdays.DateOf(at.In(h.loc)):
		d.Class, d.Text = "later", v.T("Due tomorrow")
	default:
		// A deadline in calendar days may fall on a day off: no working
		// day between now and then is not "due in 0 working days".
		if n := cal.WorkdaysBetween(now, at); n > 0 {
			d.Class, d.Text = "later", v.T("Due in %d working days", n)
		} else {
			d.Class, d.Text = "later", v.T("Due on %s", v.Date(at))
		}
	}
	return d
}

// inboxItem is a memo in the office's inbox.
type inboxItem struct {
	service.MemoSummary
	Owed string // catalog key: which answer is owed
	Due  *dueInfo
}

type inboxData struct {
	Done  bool // the answered and closed tab
	Items []inboxItem
	Next  string
}

// answered are the states of the inbox's second tab.
var answered = []string{string(channel.Replied), string(channel.Closed), string(channel.Returned), string(channel.Withdrawn)}

// inbox lists the office's open memos, nearest deadline first; ?view=done
// lists the answered ones.
func (h *handler) inbox(w http.ResponseWriter, r *http.Request, v *visit) {
	d := inboxData{Done: r.URL.Query().Get("view") == "done"}
	var states []string
	if d.Done {
		states = answered
	}
	page, err := h.svc.ListMemos(r.Context(), v.actor, service.BoxOffice, states, r.URL.Query().Get("cursor"), listLimit)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	d.Next = page.NextCursor
	now := h.svc.Now()
	var marks []string
	for _, m := range page.Items {
		it := inboxItem{MemoSummary: m}
		if m.DueAt != nil {
			it.Due = h.due(v, *m.DueAt, now)
			it.Owed = "Reply"
			switch m.State {
			case string(channel.Submitted):
				it.Owed = "Acknowledgement"
			case string(channel.Appealed):
				it.Owed = "Decision on appeal"
			}
		}
		d.Items = append(d.Items, it)
		marks = append(marks, m.Marking)
	}
	h.render(w, r, v, http.StatusOK, pageOffice, &view{Title: v.T("Office inbox"), Marking: h.strongest(marks...), Data: d})
}

type officeMembersData struct {
	Members []service.OfficeMember
	// Awaiting are the accounts whose keys await the office's
	// confirmation.
	Awaiting []service.KeysAwaiting
	// Error is a refused confirmation, of ErrorFor's keys.
	Error    *formError
	ErrorFor string
}

func (h *handler) officeMembers(w http.ResponseWriter, r *http.Request, v *visit) {
	h.showOfficeMembers(w, r, v, http.StatusOK, nil, "")
}

func (h *handler) showOfficeMembers(w http.ResponseWriter, r *http.Request, v *visit, status int, fe *formError, errorFor string) {
	ms, err := h.svc.OfficeMembers(r.Context(), v.actor)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	awaiting, err := h.svc.KeysAwaitingConfirmation(r.Context(), v.actor)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.render(w, r, v, status, pageOfficeStaff, &view{Title: v.T("Office members"),
		Data: officeMembersData{Members: ms, Awaiting: awaiting, Error: fe, ErrorFor: errorFor}})
}

func (h *handler) confirmKeys(w http.ResponseWriter, r *http.Request, v *visit) {
	username := r.PostForm.Get("username")
	err := h.svc.ConfirmKeys(r.Context(), v.actor, username, service.KeyConfirmation{
		Fingerprint: r.PostForm.Get("fingerprint"), Principal: r.PostForm.Get("principal") == "1"})
	if err == nil {
		redirect(w, r, "/office/members", flashKeysConfirmed)
		return
	}
	if fe, ok := asFormError(v, err); ok && channel.ErrorCode(err) == channel.EINVALID {
		h.showOfficeMembers(w, r, v, http.StatusUnprocessableEntity, fe, username)
		return
	}
	h.fail(w, r, v, err)
}

func (h *handler) grantOffice(w http.ResponseWriter, r *http.Request, v *visit) {
	if err := h.svc.GrantOffice(r.Context(), v.actor, r.PostForm.Get("username")); err != nil {
		h.fail(w, r, v, err)
		return
	}
	redirect(w, r, "/office/members", flashGranted)
}

// officeStep is a step of the office that needs nothing but a button.
func (h *handler) officeStep(note flash, step func(context.Context, *service.Actor, string) (*service.Memo, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visit) {
		h.memoAction(w, r, v, "", note, func() error {
			_, err := step(r.Context(), v.actor, r.PathValue("id"))
			return err
		})
	}
}

func (h *handler) returnMemo(w http.ResponseWriter, r *http.Request, v *visit) {
	h.withReason(w, r, v, reasonReturn, flashReturned, func(id, reason string) (*service.Memo, error) {
		return h.svc.Return(r.Context(), v.actor, id, reason)
	})
}

// readersData is the form for adding readers beyond the standing
// distribution.
type readersData struct {
	M         *service.Memo
	Usernames string
	Reason    string
	Error     *formError
	// Withheld are the principals the memo waits for, whose keys await
	// the office's confirmation; the office may take one off it first.
	Withheld []service.WithheldReader
}

func (h *handler) readersPage(w http.ResponseWriter, r *http.Request, v *visit) {
	m, ok := h.getMemo(w, r, v)
	if !ok {
		return
	}
	h.renderReaders(w, r, v, http.StatusOK, readersData{M: m})
}

// renderReaders shows the readers page with the principals the memo was
// withheld from.
func (h *handler) renderReaders(w http.ResponseWriter, r *http.Request, v *visit, status int, d readersData) {
	var err error
	if d.Withheld, err = h.svc.WithheldReaders(r.Context(), v.actor, d.M.ID); err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.render(w, r, v, status, pageReaders, &view{Title: v.T("Add readers"), Marking: d.M.Marking, Data: d})
}

// splitNames reads usernames separated by commas, spaces or new lines.
func splitNames(s string) []string {
	return cleanNames(strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }))
}

func (h *handler) addReaders(w http.ResponseWriter, r *http.Request, v *visit) {
	d := readersData{Usernames: r.PostForm.Get("usernames"), Reason: r.PostForm.Get("reason")}
	_, err := h.svc.AddReaders(r.Context(), v.actor, r.PathValue("id"), service.ReadersInput{Usernames: splitNames(d.Usernames), Reason: d.Reason})
	if err == nil {
		redirect(w, r, "/memos/"+r.PathValue("id"), flashReaders)
		return
	}
	var ok bool
	if d.M, d.Error, ok = h.again(w, r, v, err); ok {
		h.renderReaders(w, r, v, formStatus(err), d)
	}
}

// revokeForm is a request to take a reader off a memo's distribution.
type revokeForm struct {
	Username, Reason string
}

// revokeReader takes a reader off the distribution. The service rotates
// the memo's key, which the form says in plain words beforehand.
func (h *handler) revokeReader(w http.ResponseWriter, r *http.Request, v *visit) {
	f := revokeForm{Username: strings.TrimSpace(r.PostForm.Get("username")), Reason: r.PostForm.Get("reason")}
	_, err := h.svc.RevokeReader(r.Context(), v.actor, r.PathValue("id"), f.Username, f.Reason)
	if err == nil {
		done := flashRevoked
		if r.PostForm.Get("withheld") != "" {
			done = flashUnwithheld
		}
		redirect(w, r, "/memos/"+r.PathValue("id"), done)
		return
	}
	if m, fe, ok := h.again(w, r, v, err); ok {
		d := h.memoData(v, m)
		d.Error, d.Revoke = fe, f
		h.renderMemo(w, r, v, formStatus(err), d)
	}
}

// meetingData is the form for recording a meeting.
type meetingData struct {
	M                   *service.Memo
	Date, Time, Minutes string
	Principal, Notes    string
	Attendees           []string
	Error               *formError
}

func (h *handler) meetingPage(w http.ResponseWriter, r *http.Request, v *visit) {
	m, ok := h.getMemo(w, r, v)
	if !ok {
		return
	}
	now := h.svc.Now().In(h.loc)
	d := meetingData{M: m, Date: now.Format("2006-01-02"), Time: now.Format("15:04"), Minutes: "30"}
	h.render(w, r, v, http.StatusOK, pageMeeting, &view{Title: v.T("Record a meeting"), Marking: m.Marking, Data: d})
}

func (h *handler) recordMeeting(w http.ResponseWriter, r *http.Request, v *visit) {
	f := r.PostForm
	d := meetingData{Date: f.Get("date"), Time: f.Get("time"), Minutes: f.Get("minutes"), Principal: f.Get("principal"), Notes: f.Get("notes"), Attendees: cleanNames(f["attendees"])}
	var err error
	held, perr := time.ParseInLocation("2006-01-02 15:04", d.Date+" "+d.Time, h.loc)
	minutes, merr := strconv.Atoi(d.Minutes)
	switch {
	case perr != nil:
		err = channel.Invalid("held_at", "give the date and time the meeting was held")
	case merr != nil:
		err = channel.Invalid("minutes", "give the length of the meeting in minutes")
	default:
		_, err = h.svc.RecordMeeting(r.Context(), v.actor, r.PathValue("id"), service.MeetingInput{
			HeldAt: held, Minutes: minutes, Principal: d.Principal, Attendees: d.Attendees, Notes: d.Notes})
	}
	if err == nil {
		redirect(w, r, "/memos/"+r.PathValue("id"), flashMeeting)
		return
	}
	var ok bool
	if d.M, d.Error, ok = h.again(w, r, v, err); ok {
		h.render(w, r, v, formStatus(err), pageMeeting, &view{Title: v.T("Record a meeting"), Marking: d.M.Marking, Data: d})
	}
}

// replyData is the reply form and its preview.
type replyData struct {
	M       *service.Memo
	Body    string
	Preview bool
	Error   *formError
	// Action is the answer the form sends, and the address it posts to:
	// answerReply or answerDecision.
	Action string
}

// replyPage is the form for the office's answer: the reply, or for an
// appealed memo the decision on appeal, each posted to its own address so
// that a form filled in for one is never taken for the other.
func (h *handler) replyPage(w http.ResponseWriter, r *http.Request, v *visit) {
	m, ok := h.getMemo(w, r, v)
	if !ok {
		return
	}
	d := replyData{M: m, Action: answerReply}
	if m.State == string(channel.Appealed) {
		d.Action = answerDecision
	}
	h.render(w, r, v, http.StatusOK, pageReply, &view{Title: v.T("Reply"), Marking: m.Marking, Data: d})
}

// The office's answers, by the address their form posts to.
const (
	answerReply    = "reply"
	answerDecision = "decision"
)

func (h *handler) reply(w http.ResponseWriter, r *http.Request, v *visit) {
	h.answer(w, r, v, answerReply, flashReplied, h.svc.Reply)
}

func (h *handler) decide(w http.ResponseWriter, r *http.Request, v *visit) {
	h.answer(w, r, v, answerDecision, flashDecided, h.svc.DecideAppeal)
}

// answer previews an answer (action=preview), sends it (action=send), or
// shows the form again to change it.
func (h *handler) answer(w http.ResponseWriter, r *http.Request, v *visit, action string, note flash, send func(context.Context, *service.Actor, string, string) (*service.Memo, error)) {
	d := replyData{Body: r.PostForm.Get("body"), Action: action}
	var err error
	switch r.PostForm.Get("action") {
	case "preview":
		err = channel.ValidateText("body", d.Body, h.svc.Config().MaxBody)
		d.Preview = err == nil
	case "send":
		if _, err = send(r.Context(), v.actor, r.PathValue("id"), d.Body); err == nil {
			redirect(w, r, "/memos/"+r.PathValue("id"), note)
			return
		}
	}
	status := http.StatusOK
	if err != nil {
		fe, ok := asFormError(v, err)
		if !ok {
			h.fail(w, r, v, err)
			return
		}
		d.Error, status = fe, formStatus(err)
	}
	m, ok := h.getMemo(w, r, v)
	if !ok {
		return
	}
	d.M = m
	h.render(w, r, v, status, pageReply, &view{Title: v.T("Reply"), Marking: m.Marking, Data: d})
}

type readingData struct {
	Items []service.MemoSummary
	Next  string
}

// readingRoom lists the memos on the principal's distribution.
func (h *handler) readingRoom(w http.ResponseWriter, r *http.Request, v *visit) {
	page, err := h.svc.ListMemos(r.Context(), v.actor, service.BoxDistribution, nil, r.URL.Query().Get("cursor"), listLimit)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	var marks []string
	for _, m := range page.Items {
		marks = append(marks, m.Marking)
	}
	h.render(w, r, v, http.StatusOK, pageReadingRoom, &view{Title: v.T("Reading room"), Marking: h.strongest(marks...), Data: readingData{Items: page.Items, Next: page.NextCursor}})
}

// message is the office writing to a memo's authors, or they to it.
func (h *handler) message(w http.ResponseWriter, r *http.Request, v *visit) {
	h.memoAction(w, r, v, "", flashMessaged, func() error {
		_, err := h.svc.Message(r.Context(), v.actor, r.PathValue("id"), r.PostForm.Get("body"))
		return err
	})
}

func (h *handler) comment(w http.ResponseWriter, r *http.Request, v *visit) {
	h.memoAction(w, r, v, "", flashCommented, func() error {
		_, err := h.svc.Comment(r.Context(), v.actor, r.PathValue("id"), r.PostForm.Get("body"))
		return err
	})
}
