package service

import (
	"context"
	"encoding/csv"
	"io"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/workdays"
)

// Yearly figures are what an inspector general or a parliament asks for:
// how many memos, what became of them, how promptly the office answered,
// how many people signed them. They come only from plaintext metadata that
// names no one (states, times, author counts) and must never single out a
// person, so small counts are hidden by these rules:
//
//  1. The only filter is the calendar year of submission. Years are
//     disjoint, so no two releases cover nested populations whose
//     difference could isolate a memo. (Any new filter must keep this
//     property, or be suppressed jointly with every release it overlaps.)
//  2. Every table partitions either all the year's memos (states, signer
//     bands) or the memos of some published states (the timeliness
//     tables), so each table's total is known to the reader: it is the
//     published year total, or a sum of published state counts.
//  3. Primary suppression: a count from 1 to threshold-1 is shown as "<5"
//     (for the default threshold 5). Zero is shown: it singles out no one.
//  4. Complementary suppression: within a table, the hidden cells' sum is
//     the total minus the shown cells, so a lone hidden cell, or hidden
//     cells whose sum pins them down, could be worked out by subtraction.
//     More cells are hidden ("suppressed"; such a cell holds at least the
//     threshold, as the reader can tell) until, for every small cell, each
//     value from 1 to threshold-1 is still consistent with everything
//     shown: the figures then say nothing about it beyond "<5". If no
//     choice of cells achieves that, the whole table is withheld.
//  5. A table beneath a hidden state count is withheld whole: its cells
//     would add up to the hidden count.
//  6. Shares and medians are published only when computed from shown cells
//     alone (medians: over a fully shown table of at least threshold
//     memos), so a derived figure never reopens a hidden cell.
//  7. A year with fewer memos than the threshold shows only "<5".
//
// Figures of the current year change as memos move on; two releases a day
// apart differ by that day's steps. Those steps are in the ledger, with
// their times (memo.submit, memo.acknowledge, …), for the roles that may
// ask for figures, so the difference of the state and timeliness tables
// reveals nothing the ledger does not. The signer bands are another
// matter: no leaf states a memo's number of authors, and a band that
// grows by one between two releases would give one memo's (a memo by one
// person alone, say). They are withheld until the year is over, when the
// year's memos no longer change band (SignerBandsAfter).

// Count is a published count: a number, "<N" when it is below the
// suppression threshold, or "suppressed" when it is hidden so that a small
// count cannot be worked out from the others.
type Count struct {
	n         int
	show      shown
	threshold int
}

type shown int

const (
	shownNumber shown = iota
	shownSmall        // 1 to threshold-1: primary suppression
	shownHidden       // complementary suppression, or a withheld table
)

// MarshalJSON writes a number, "<N" or "suppressed".
func (c Count) MarshalJSON() ([]byte, error) {
	if c.show != shownNumber {
		return []byte(strconv.Quote(c.String())), nil
	}
	return []byte(strconv.Itoa(c.n)), nil
}

// String is how the count is printed.
func (c Count) String() string {
	switch c.show {
	case shownSmall:
		return "<" + strconv.Itoa(c.threshold)
	case shownHidden:
		return "suppressed"
	}
	return strconv.Itoa(c.n)
}

// primary is n with primary suppression: shown as "<k" from 1 to k-1.
func primary(n, k int) Count {
	c := Count{n: n, threshold: k}
	if n > 0 && n < k {
		c.show = shownSmall
	}
	return c
}

// Shown reports whether the count is published as a number.
func (c Count) Shown() bool { return c.show == shownNumber }

// Stats are a year's figures. Counts are of memos submitted in the year (in
// the office's time zone), in their state as of AsOf.
type Stats struct {
	Year int `json:"year"`
	// AsOf is when the figures were computed; CSV carries it, JSON is
	// computed at the request.
	AsOf        time.Time `json:"-"`
	Suppression int       `json:"suppression_threshold"`
	Submitted   Count     `json:"submitted"`
	// States counts memos by state; returns and withdrawals are the
	// "returned" and "withdrawn" states.
	States map[string]Count `json:"states"`
	// AwaitingAcknowledgement splits the memos still "submitted" by
	// whether their acknowledgement deadline has passed.
	AwaitingAcknowledgement map[string]Count `json:"awaiting_acknowledgement"`
	// Acknowledged splits the acknowledged, replied and closed memos by
	// whether the acknowledgement (or a reply, which acknowledges too)
	// came by its deadline.
	Acknowledged            map[string]Count `json:"acknowledged"`
	AcknowledgedOnTimeShare *float64         `json:"acknowledged_on_time_share"`
	// AwaitingReply splits the memos still "acknowledged" by whether the
	// reply deadline has passed.
	AwaitingReply map[string]Count `json:"awaiting_reply"`
	// Replied splits the replied and closed memos by whether the reply
	// came by the memo's own reply deadline, by its latest reply date, or
	// after both (each set at submission by the profile: under 2 FAM 070,
	// 30 and at most 60 working days from receipt).
	Replied               map[string]Count `json:"replied"`
	RepliedOnTimeShare    *float64         `json:"replied_on_time_share"`
	RepliedByLatestShare  *float64         `json:"replied_by_latest_share"`
	MedianWorkdaysToReply *float64         `json:"median_workdays_to_reply"`
	MedianDaysToReply     *float64         `json:"median_days_to_reply"`
	// AppealsMade counts the memos appealed (profiles with appeals);
	// AwaitingAppeal splits those still "appealed" by whether the decision
	// on appeal is overdue; Appeals splits the appeals decided by whether
	// the decision came by its deadline. An appealed memo counts in
	// Acknowledged and Replied by its first reply, once the appealed
	// state's count is shown.
	AppealsMade    Count            `json:"appeals"`
	AwaitingAppeal map[string]Count `json:"awaiting_appeal_decision"`
	Appeals        map[string]Count `json:"appeals_decided"`
	// SignerBands counts memos by their number of authors: withheld, every
	// cell "suppressed", until the year is over (SignerBandsAfter).
	SignerBands map[string]Count `json:"signer_bands"`
	// SignerBandsAfter, for a year not over yet, is when its signer bands
	// will be published: the end of the year in the office's time zone.
	SignerBandsAfter *time.Time `json:"signer_bands_after,omitempty"`

	// Acknowledge and Reply regroup the cells above as the web's figures
	// page reads them. Each is a cell above, or the sum of shown cells
	// (hidden when either part is), so they reveal nothing more.
	Acknowledge Timeliness `json:"-"`
	Reply       Timeliness `json:"-"`
}

// Timeliness says how many answers came on time, late, or are still owed.
type Timeliness struct {
	OnTime  Count
	Late    Count
	Pending Count
	// WithinLatest counts replies after the normal deadline but within the
	// latest one (State profile: after 30, within 60 working days).
	WithinLatest Count
}

// The cells of each table, in the order they are printed.
var (
	statsStates = func() []string {
		var out []string
		for _, s := range channel.States {
			if s.Delivered() || s == channel.Withdrawn {
				out = append(out, string(s))
			}
		}
		return out
	}()
	statsAwaiting = []string{"within_deadline", "overdue"}
	// The timeliness tables judge the memos of their states by a deadline;
	// ended_before_due holds those returned or withdrawn before it came
	// due (for replies: or before they were acknowledged), so that each
	// table partitions its states' memos and its total is a sum of shown
	// state counts (rule 2). Without it, the table's total less those
	// states' would be a count of ended memos in the clear.
	statsAcknowledged = []string{"on_time", "late", "ended_before_due"}
	statsReplied      = []string{"on_time", "within_latest", "late", "ended_before_due"}
	judgedAck         = statsAcknowledged[:2]
	judgedReply       = statsReplied[:3]
	statsAppeals      = []string{"on_time", "late"}
	signerBands       = []struct {
		name     string
		min, max int
	}{{"1", 1, 1}, {"2-5", 2, 5}, {"6-20", 6, 20}, {"21-50", 21, 50}, {"51+", 51, math.MaxInt}}
)

// MaxStatsYear is the last year YearStats answers for.
const MaxStatsYear = 9998

// YearStats computes the figures of memos submitted in year (in the
// office's time zone). Auditors, the office and administrators may ask.
func (s *Service) YearStats(ctx context.Context, a *Actor, year int) (*Stats, error) {
	if !a.Has(channel.RoleAuditor) && !a.Has(channel.RoleOffice) && !a.Has(channel.RoleAdmin) {
		return nil, channel.Errorf(channel.EFORBIDDEN, "figures are for auditors, the office and administrators")
	}
	// The last: the figures name 1 January of the year after (when the
	// signer bands come), which must be a year of four digits.
	if year < 1971 || year > MaxStatsYear {
		return nil, channel.Invalid("year", "year must be between 1971 and %d", MaxStatsYear)
	}
	loc := s.cfg.Calendar.Location()
	from, to := time.Date(year, 1, 1, 0, 0, 0, 0, loc), time.Date(year+1, 1, 1, 0, 0, 0, 0, loc)
	var facts []store.MemoFacts
	err := s.inTx(ctx, false, func(tx store.Tx) error {
		before, err := ledgerSize(ctx, tx)
		if err != nil {
			return err
		}
		if err := s.memosWellTyped(ctx, tx); err != nil {
			return err
		}
		if facts, err = tx.MemoFacts(ctx, micros(from), micros(to)); err != nil {
			return err
		}
		return s.factsVouched(ctx, tx, facts, before)
	})
	if err != nil {
		return nil, err
	}
	now := s.now()
	st := computeStats(year, facts, s.cfg.Calendar, now, s.cfg.Suppress)
	withholdBandsOfAYearUnderWay(st, s.cfg.Calendar.Location(), now)
	return st, nil
}

// factsVouched refuses figures counted from rows that say other than
// their memos' ledgers of where each memo is and when it took its steps
// (lifecycle.go): an acknowledgement dated back in the database would
// make the office look timely in the figures auditors publish.
func (s *Service) factsVouched(ctx context.Context, tx store.Tx, facts []store.MemoFacts, before int64) error {
	bad := 0
	for page := range slices.Chunk(facts, lifecyclePage) {
		rows := make([]stepsRow, len(page))
		for i, f := range page {
			rows[i] = stepsRow{f.ID, factSteps(f)}
		}
		n, err := s.rowsDisagree(ctx, tx, rows, before)
		if err != nil {
			return err
		}
		bad += n
	}
	if bad > 0 {
		// How many, as a count of the figures: a number below the
		// threshold would bound a year's total shown as "<5" (review 58).
		n := primary(bad, s.cfg.Suppress)
		return channel.Errorf(channel.EUNAVAILABLE, "the figures are withheld: the records of %s of the memos they count were altered in the database, against the memos' ledger; the operators are told (the server's log names the memos)", n)
	}
	return nil
}

// tally is the raw counts before suppression.
type tally struct {
	states, bands, awaitingAck, acknowledged, awaitingReply, replied map[string]int
	awaitingAppeal, appeals                                          map[string]int
	// appealedAck and appealedReply judge the memos still appealed (merged
	// in when that state's count shows), with their times to reply.
	appealedAck, appealedReply map[string]int
	appealedWorkdays           []int
	appealedDays               []float64
	appealsMade                int
	// endedAck and endedReply judge the deadlines of memos returned or
	// withdrawn after they came due (merged in when those states show).
	endedAck, endedReply map[string]int
	workdays             []int     // receipt to reply, per replied memo
	days                 []float64 // the same in calendar days
}

func count(facts []store.MemoFacts, cal *workdays.Calendar, now time.Time) tally {
	t := tally{states: map[string]int{}, bands: map[string]int{}, awaitingAck: map[string]int{},
		acknowledged: map[string]int{}, awaitingReply: map[string]int{}, replied: map[string]int{},
		endedAck: map[string]int{}, endedReply: map[string]int{}, awaitingAppeal: map[string]int{}, appeals: map[string]int{},
		appealedAck: map[string]int{}, appealedReply: map[string]int{}}
	nowUS := micros(now)
	for _, f := range facts {
		t.states[f.State]++
		for _, b := range signerBands {
			if f.AuthorsCount >= b.min && f.AuthorsCount <= b.max {
				t.bands[b.name]++
			}
		}
		switch channel.State(f.State) {
		case channel.Submitted:
			t.awaitingAck[overdue(nowUS, f.AcknowledgeBy)]++
		case channel.Acknowledged:
			t.awaitingReply[overdue(nowUS, f.ReplyBy)]++
		case channel.Appealed:
			t.awaitingAppeal[overdue(nowUS, f.AppealReplyBy)]++
		}
		if f.AppealedAt > 0 {
			t.appealsMade++
		}
		if f.AppealRepliedAt > 0 {
			if f.AppealRepliedAt <= f.AppealReplyBy {
				t.appeals["on_time"]++
			} else {
				t.appeals["late"]++
			}
		}
		// An appealed memo is judged by its first answers, apart (merged
		// in when the appealed count shows, as returns are).
		acknowledged, replied, wds, days := t.acknowledged, t.replied, &t.workdays, &t.days
		if channel.State(f.State) == channel.Appealed {
			acknowledged, replied, wds, days = t.appealedAck, t.appealedReply, &t.appealedWorkdays, &t.appealedDays
		}
		switch channel.State(f.State) {
		case channel.Acknowledged, channel.Replied, channel.Closed, channel.Appealed:
			if f.AcknowledgedAt <= f.AcknowledgeBy {
				acknowledged["on_time"]++
			} else {
				acknowledged["late"]++
			}
		case channel.Returned, channel.Withdrawn:
			// Ended without the office's answer: a deadline that passed
			// before the end was missed, however the memo ended, or a
			// return weeks late would take the miss out of the figures.
			// One that had not come due was owed no more.
			if late, due := missedBefore(f.AcknowledgedAt, f.EndedAt, f.AcknowledgeBy); due && late {
				t.endedAck["late"]++
			} else if due {
				t.endedAck["on_time"]++
			} else {
				t.endedAck["ended_before_due"]++
			}
			// A reply that came due before the end, never given: judged as
			// a reply given at the end would be.
			if f.AcknowledgedAt > 0 && f.RepliedAt == 0 && f.EndedAt > f.ReplyBy {
				if f.EndedAt <= max(f.ReplyLatest, f.ReplyBy) {
					t.endedReply["within_latest"]++
				} else {
					t.endedReply["late"]++
				}
			} else {
				t.endedReply["ended_before_due"]++
			}
		}
		switch channel.State(f.State) {
		case channel.Replied, channel.Closed, channel.Appealed: // an appeal keeps its first reply's time
			received := cal.Received(fromMicros(f.SubmittedAt))
			repliedAt := fromMicros(f.RepliedAt)
			wd := cal.WorkdaysBetween(received, repliedAt)
			// By the memo's own deadlines, to the microsecond, as the
			// reminders escalate: a count of whole working days would
			// take a reply the evening after the deadline for one on
			// time, and know only the State profile's 30 and 60.
			switch {
			case f.RepliedAt <= f.ReplyBy:
				replied["on_time"]++
			case f.RepliedAt <= max(f.ReplyLatest, f.ReplyBy):
				replied["within_latest"]++
			default:
				replied["late"]++
			}
			*wds = append(*wds, wd)
			*days = append(*days, max(0, repliedAt.Sub(received).Hours()/24))
		}
	}
	return t
}

// missedBefore judges a deadline for a memo that ended at end: whether it
// was owed (done, or come due before the end) and whether it was missed
// (done after it, or not done by then).
func missedBefore(done, end, deadline int64) (late, due bool) {
	switch {
	case done > 0:
		return done > deadline, true
	case end > deadline:
		return true, true
	}
	return false, false
}

// bandsMargin is how long after the year's end its signer bands wait.
const bandsMargin = time.Hour

func overdue(now, deadline int64) string {
	if now > deadline {
		return "overdue"
	}
	return "within_deadline"
}

// withholdBandsOfAYearUnderWay hides every signer band of st, figures of a
// year that is not over at now (the package comment says why), and says
// when they come.
//
// They come an hour after the year ends (bandsMargin): a submission dates
// itself by the clock before its transaction commits, so one stamped at
// the year's last instant could be counted a moment after it, and the
// bands before and after would give its number of authors.
func withholdBandsOfAYearUnderWay(st *Stats, loc *time.Location, now time.Time) {
	end := time.Date(st.Year+1, time.January, 1, 0, 0, 0, 0, loc).Add(bandsMargin)
	if !now.Before(end) {
		return
	}
	for b, c := range st.SignerBands {
		c.show = shownHidden
		st.SignerBands[b] = c
	}
	st.SignerBandsAfter = &end
}

func computeStats(year int, facts []store.MemoFacts, cal *workdays.Calendar, now time.Time, k int) *Stats {
	t := count(facts, cal, now)
	st := &Stats{Year: year, AsOf: now, Suppression: k}
	total := len(facts)
	st.Submitted = primary(total, k)
	withheld := st.Submitted.show == shownSmall
	table := func(cells []string, raw map[string]int, totalKnown bool) map[string]Count {
		counts := make([]int, len(cells))
		for i, c := range cells {
			counts[i] = raw[c]
		}
		out := map[string]Count{}
		for i, c := range suppress(counts, k, totalKnown && !withheld) {
			if withheld {
				c.show = shownHidden // zeros too: the year shows nothing but "<5"
			}
			out[cells[i]] = c
		}
		return out
	}
	shownAll := func(m map[string]Count, cells ...string) bool {
		for _, c := range cells {
			if !m[c].Shown() {
				return false
			}
		}
		return true
	}
	sub, ack, rep, clo, apl := string(channel.Submitted), string(channel.Acknowledged), string(channel.Replied), string(channel.Closed), string(channel.Appealed)
	st.States = table(statsStates, t.states, true)
	// Returned and withdrawn memos count in the timeliness tables when a
	// deadline came due before they ended, so that ending a memo does not
	// take a missed deadline out of the figures; but only when those
	// states' counts are shown, or the tables' difference from the states
	// shown would tell a suppressed count.
	ackFrom, replyFrom := []string{ack, rep, clo}, []string{rep, clo}
	if shownAll(st.States, apl) {
		for k, n := range t.appealedAck {
			t.acknowledged[k] += n
		}
		for k, n := range t.appealedReply {
			t.replied[k] += n
		}
		t.workdays, t.days = append(t.workdays, t.appealedWorkdays...), append(t.days, t.appealedDays...)
		ackFrom, replyFrom = append(ackFrom, apl), append(replyFrom, apl)
	}
	if ret, wdr := string(channel.Returned), string(channel.Withdrawn); shownAll(st.States, ret, wdr) {
		for k, n := range t.endedAck {
			t.acknowledged[k] += n
		}
		for k, n := range t.endedReply {
			t.replied[k] += n
		}
		ackFrom, replyFrom = append(ackFrom, ret, wdr), append(replyFrom, ret, wdr)
	}
	bandNames := make([]string, len(signerBands))
	for i, b := range signerBands {
		bandNames[i] = b.name
	}
	st.SignerBands = table(bandNames, t.bands, true)
	st.AwaitingAcknowledgement = table(statsAwaiting, t.awaitingAck, shownAll(st.States, sub))
	st.Acknowledged = table(statsAcknowledged, t.acknowledged, shownAll(st.States, ackFrom...))
	st.AwaitingReply = table(statsAwaiting, t.awaitingReply, shownAll(st.States, ack))
	st.Replied = table(statsReplied, t.replied, shownAll(st.States, replyFrom...))
	st.AwaitingAppeal = table(statsAwaiting, t.awaitingAppeal, shownAll(st.States, apl))
	// The appeals decided are those made less those still appealed: a
	// total known when both counts show.
	st.AppealsMade = primary(t.appealsMade, k)
	if withheld {
		st.AppealsMade.show = shownHidden // zeros too, as every table's
	}
	// The appeals decided are those made less those still appealed: a
	// count of its own, which must not come out small by subtraction.
	if decided := t.appealsMade - t.states[apl]; decided > 0 && decided < k && st.AppealsMade.Shown() && st.States[apl].Shown() {
		st.AppealsMade.show = shownHidden
	}
	st.Appeals = table(statsAppeals, t.appeals, st.AppealsMade.Shown() && shownAll(st.States, apl))

	st.Acknowledge = Timeliness{OnTime: st.Acknowledged["on_time"], Late: st.Acknowledged["late"], Pending: st.States[sub]}
	st.Reply = Timeliness{OnTime: st.Replied["on_time"], WithinLatest: st.Replied["within_latest"],
		Late: st.Replied["late"], Pending: sum(k, st.States[sub], st.States[ack])}

	// Each share is of the memos its table judged.
	if n := t.acknowledged["on_time"] + t.acknowledged["late"]; n > 0 && shownAll(st.Acknowledged, judgedAck...) {
		st.AcknowledgedOnTimeShare = share(st.Acknowledged["on_time"].n, n)
	}
	if n := t.replied["on_time"] + t.replied["within_latest"] + t.replied["late"]; n > 0 && shownAll(st.Replied, judgedReply...) {
		st.RepliedOnTimeShare = share(st.Replied["on_time"].n, n)
		if shownAll(st.Replied, "within_latest") {
			st.RepliedByLatestShare = share(st.Replied["on_time"].n+st.Replied["within_latest"].n, n)
		}
	}
	if n := len(t.workdays); n >= k && shownAll(st.Replied, judgedReply...) {
		ws := make([]float64, n)
		for i, w := range t.workdays {
			ws[i] = float64(w)
		}
		st.MedianWorkdaysToReply = median(ws)
		st.MedianDaysToReply = median(t.days)
	}
	return st
}

// sum adds shown counts; it is hidden if any part is.
func sum(k int, cs ...Count) Count {
	out := Count{threshold: k}
	for _, c := range cs {
		out.n += c.n
		if !c.Shown() {
			out.show = shownHidden
		}
	}
	return out
}

// share is part/whole rounded to three decimals.
func share(part, whole int) *float64 {
	v := math.Round(float64(part)/float64(whole)*1000) / 1000
	return &v
}

// median of xs, rounded to one decimal.
func median(xs []float64) *float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	m = math.Round(m*10) / 10
	return &m
}

// suppress applies rules 3 and 4 to one table whose cells partition a
// total the reader knows (rule 2); with totalKnown false (rule 5, or a
// year under the threshold), or a total from 1 to k-1, the table is
// withheld.
func suppress(counts []int, k int, totalKnown bool) []Count {
	out := hideCells(counts, k, totalKnown)
	if !indistinct(counts, out, k) {
		for i := range out {
			out[i].show = shownHidden
		}
	}
	return out
}

// maxCandidates bounds the tables indistinct tries; a table that would need
// more is withheld.
const maxCandidates = 100_000

// indistinct reports whether out, hideCells' answer for counts, leaves
// every "<k" cell open to each value 1 to k-1 for a reader who knows the
// rules. Which cells hideCells hides beside the small ones depends on the
// hidden values, so the reader can try every table that agrees with what
// out shows (small cells 1 to k-1, other hidden ones k or more, the known
// total) and keep those hideCells would show the same way: for cells of 1,
// 7 and 7 of a total of 15, only a first cell of 1 hides both others. This
// tries them all too, and refuses an answer that narrows any cell.
func indistinct(counts []int, out []Count, k int) bool {
	if allHidden(out) {
		return true // withheld already
	}
	var hidden []int // indexes of the hidden cells
	left := 0        // their sum
	for i, c := range out {
		if c.show != shownNumber {
			hidden = append(hidden, i)
			left += counts[i]
		}
	}
	if len(hidden) == 0 {
		return true
	}
	seen := make([]map[int]bool, len(out))
	for _, i := range hidden {
		if out[i].show == shownSmall {
			seen[i] = map[int]bool{}
		}
	}
	// least[j] is the least the hidden cells from the j-th on can sum to.
	least := make([]int, len(hidden)+1)
	for j := len(hidden) - 1; j >= 0; j-- {
		least[j] = least[j+1] + 1
		if out[hidden[j]].show == shownHidden {
			least[j] = least[j+1] + k
		}
	}
	cand := slices.Clone(counts)
	tried := 0
	var try func(j, left int) bool
	try = func(j, left int) bool {
		if j == len(hidden) {
			if left != 0 {
				return true
			}
			if tried++; tried > maxCandidates {
				return false
			}
			if sameShown(hideCells(cand, k, true), out) {
				for _, i := range hidden {
					if seen[i] != nil {
						seen[i][cand[i]] = true
					}
				}
			}
			return true
		}
		i := hidden[j]
		lo, hi := 1, k-1
		if out[i].show == shownHidden {
			lo, hi = k, left
		}
		for v := lo; v <= hi && v <= left-least[j+1]; v++ {
			cand[i] = v
			if !try(j+1, left-v) {
				return false
			}
		}
		return true
	}
	if !try(0, left) {
		return false
	}
	for _, s := range seen {
		if s != nil && len(s) < k-1 {
			return false
		}
	}
	return true
}

func allHidden(out []Count) bool {
	for _, c := range out {
		if c.show != shownHidden {
			return false
		}
	}
	return true
}

// sameShown reports whether two answers for one table look the same.
func sameShown(a, b []Count) bool {
	for i := range a {
		if a[i].show != b[i].show || a[i].show == shownNumber && a[i].n != b[i].n {
			return false
		}
	}
	return true
}

// hideCells is suppress without the check that which cells it hid tells
// nothing (indistinct).
func hideCells(counts []int, k int, totalKnown bool) []Count {
	out := make([]Count, len(counts))
	total := 0
	for i, n := range counts {
		out[i] = Count{n: n, threshold: k}
		total += n
	}
	if total == 0 {
		return out
	}
	if !totalKnown || total < k {
		for i := range out {
			out[i].show = shownHidden
		}
		return out
	}
	small, hidden := 0, 0 // hidden = the sum of every hidden cell
	for i, n := range counts {
		if n > 0 && n < k {
			out[i].show = shownSmall
			small++
			hidden += n
		}
	}
	extra := 0 // cells hidden to protect the small ones
	for small > 0 && !protected(small, extra, hidden, k) {
		// Hide the smallest shown cell that alone protects the small ones;
		// if none does, the largest (it adds the most room), and go on.
		pick := -1
		for i, n := range counts {
			if out[i].show != shownNumber || n == 0 {
				continue
			}
			if protected(small, extra+1, hidden+n, k) && (pick < 0 || n < counts[pick]) {
				pick = i
			}
		}
		if pick < 0 {
			for i, n := range counts {
				if out[i].show == shownNumber && n > 0 && (pick < 0 || n > counts[pick]) {
					pick = i
				}
			}
		}
		if pick < 0 {
			for i := range out {
				out[i].show = shownHidden
			}
			return out
		}
		out[pick].show = shownHidden
		extra++
		hidden += counts[pick]
	}
	return out
}

// protected reports whether small hidden cells (each 1 to k-1), hidden
// alongside extra cells (each k or more, as a reader can tell: a smaller
// one would show as "<k"), summing to hidden, leave every value 1 to k-1
// possible for each small cell. A reader who knows the table's total knows
// hidden; for one small cell to take the value v, the others must be able
// to sum to hidden-v, and the others can sum to exactly the integers from
// (small-1) + extra*k upwards (with extra cells; without, up to
// (small-1)*(k-1)).
func protected(small, extra, hidden, k int) bool {
	others := small - 1
	lo := others + extra*k // the least the other hidden cells can sum to
	if hidden-(k-1) < lo {
		return false // a large v would leave the others too little
	}
	if extra == 0 && hidden-1 > others*(k-1) {
		return false // v = 1 would leave the others more than they can hold
	}
	return true
}

// WriteCSV writes the figures as CSV rows of table, cell and value, in a
// fixed order; hidden counts read "<5" or "suppressed" as in JSON, and a
// share or median that is not published is empty.
func (st *Stats) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	rows := [][]string{
		{"table", "cell", "value"},
		{"year", "", strconv.Itoa(st.Year)},
		{"as_of", "", st.AsOf.Format(time.RFC3339)},
		{"suppression_threshold", "", strconv.Itoa(st.Suppression)},
		{"submitted", "", st.Submitted.String()},
	}
	add := func(table string, cells []string, m map[string]Count) {
		for _, c := range cells {
			rows = append(rows, []string{table, c, m[c].String()})
		}
	}
	num := func(table, cell string, v *float64) {
		s := ""
		if v != nil {
			s = strconv.FormatFloat(*v, 'f', -1, 64)
		}
		rows = append(rows, []string{table, cell, s})
	}
	add("states", statsStates, st.States)
	add("awaiting_acknowledgement", statsAwaiting, st.AwaitingAcknowledgement)
	add("acknowledged", statsAcknowledged, st.Acknowledged)
	num("acknowledged", "on_time_share", st.AcknowledgedOnTimeShare)
	add("awaiting_reply", statsAwaiting, st.AwaitingReply)
	add("replied", statsReplied, st.Replied)
	num("replied", "on_time_share", st.RepliedOnTimeShare)
	num("replied", "by_latest_share", st.RepliedByLatestShare)
	num("replied", "median_workdays", st.MedianWorkdaysToReply)
	num("replied", "median_days", st.MedianDaysToReply)
	rows = append(rows, []string{"appeals", "made", st.AppealsMade.String()})
	add("awaiting_appeal_decision", statsAwaiting, st.AwaitingAppeal)
	add("appeals_decided", statsAppeals, st.Appeals)
	bands := make([]string, len(signerBands))
	for i, b := range signerBands {
		bands[i] = b.name
	}
	add("signer_bands", bands, st.SignerBands)
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	return cw.Error()
}
