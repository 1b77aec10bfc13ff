package service

import (
	"context"
	"strconv"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/store"
)

// Count is a published count: a number, or "<N" when it is below the
// suppression threshold (or suppressed so that it cannot be worked out
// from the others).
type Count struct {
	n          int
	suppressed bool
	secondary  bool // hidden only so that a small cell cannot be derived
	threshold  int
}

// MarshalJSON writes a number, "<N", or "suppressed".
func (c Count) MarshalJSON() ([]byte, error) {
	if c.suppressed || c.secondary {
		return []byte(strconv.Quote(c.String())), nil
	}
	return []byte(strconv.Itoa(c.n)), nil
}

// String is how the count is printed.
func (c Count) String() string {
	switch {
	case c.suppressed:
		return "<" + strconv.Itoa(c.threshold)
	case c.secondary:
		return "suppressed"
	}
	return strconv.Itoa(c.n)
}

// Stats are a year's figures. They come only from plaintext metadata that
// names no one (states, times, counts), and every small count is hidden.
type Stats struct {
	Year        int              `json:"year"`
	Submitted   Count            `json:"submitted"`
	States      map[string]Count `json:"states"`
	Acknowledge Timeliness       `json:"acknowledgements"`
	Reply       Timeliness       `json:"replies"`
	SignerBands map[string]Count `json:"signer_bands"`
	Suppression int              `json:"suppression_threshold"`
}

// Timeliness says how many answers came on time, late, or are still owed.
type Timeliness struct {
	OnTime  Count `json:"on_time"`
	Late    Count `json:"late"`
	Pending Count `json:"pending"`
	// WithinLatest counts replies after the normal deadline but within the
	// latest one (State profile: after 30, within 60 working days).
	WithinLatest Count `json:"within_latest,omitempty"`
}

var signerBands = []struct {
	name     string
	min, max int
}{{"1", 1, 1}, {"2-5", 2, 5}, {"6-20", 6, 20}, {"21-50", 21, 50}, {"51+", 51, 1 << 30}}

// YearStats computes the figures of memos submitted in year (in the
// office's time zone). Auditors, the office and administrators may ask.
func (s *Service) YearStats(ctx context.Context, a *Actor, year int) (*Stats, error) {
	if !a.Has(channel.RoleAuditor) && !a.Has(channel.RoleOffice) && !a.Has(channel.RoleAdmin) {
		return nil, channel.Errorf(channel.EFORBIDDEN, "figures are for auditors, the office and administrators")
	}
	if year < 1971 || year > 9999 {
		return nil, channel.Invalid("year", "year must be between 1971 and 9999")
	}
	loc := s.cfg.Calendar.Location()
	from, to := time.Date(year, 1, 1, 0, 0, 0, 0, loc), time.Date(year+1, 1, 1, 0, 0, 0, 0, loc)
	var facts []store.MemoFacts
	err := s.inTx(ctx, false, func(tx store.Tx) error {
		var err error
		facts, err = tx.MemoFacts(ctx, micros(from), micros(to))
		return err
	})
	if err != nil {
		return nil, err
	}
	return computeStats(year, facts, micros(s.now()), s.cfg.Suppress), nil
}

func computeStats(year int, facts []store.MemoFacts, now int64, threshold int) *Stats {
	states := map[string]int{}
	bands := map[string]int{}
	var ack, rep [4]int // on time, late, pending, within latest
	for _, f := range facts {
		states[f.State]++
		for _, b := range signerBands {
			if f.AuthorsCount >= b.min && f.AuthorsCount <= b.max {
				bands[b.name]++
			}
		}
		if f.State == string(channel.Withdrawn) || f.State == string(channel.Returned) {
			continue
		}
		switch {
		case f.AcknowledgedAt == 0:
			ack[2]++
		case f.AcknowledgedAt <= f.AcknowledgeBy:
			ack[0]++
		default:
			ack[1]++
		}
		switch {
		case f.RepliedAt == 0:
			rep[2]++
		case f.RepliedAt <= f.ReplyBy:
			rep[0]++
		case f.RepliedAt <= f.ReplyLatest:
			rep[3]++
		default:
			rep[1]++
		}
	}
	st := &Stats{Year: year, States: map[string]Count{}, SignerBands: map[string]Count{}, Suppression: threshold}
	var names []string
	var counts []int
	for _, s := range channel.States {
		if s == channel.Draft || s == channel.Circulating {
			continue // never submitted, so never counted
		}
		names, counts = append(names, string(s)), append(counts, states[string(s)])
	}
	for i, c := range suppress(counts, threshold) {
		st.States[names[i]] = c
	}
	names, counts = nil, nil
	for _, b := range signerBands {
		names, counts = append(names, b.name), append(counts, bands[b.name])
	}
	for i, c := range suppress(counts, threshold) {
		st.SignerBands[names[i]] = c
	}
	a := suppress(ack[:3], threshold)
	st.Acknowledge = Timeliness{OnTime: a[0], Late: a[1], Pending: a[2]}
	r := suppress(rep[:], threshold)
	st.Reply = Timeliness{OnTime: r[0], Late: r[1], Pending: r[2], WithinLatest: r[3]}
	st.Submitted = suppress([]int{len(facts)}, threshold)[0]
	return st
}

// suppress hides every count in a group that is below threshold (but above
// zero: a zero reveals no one). Because the group's total is published
// too, a single hidden cell could be worked out by subtraction, so the
// smallest other non-zero cell is hidden with it (secondary suppression,
// shown as "suppressed" since it is not small itself).
func suppress(counts []int, threshold int) []Count {
	out := make([]Count, len(counts))
	hidden := 0
	for i, n := range counts {
		out[i] = Count{n: n, threshold: threshold}
		if n > 0 && n < threshold {
			out[i].suppressed = true
			hidden++
		}
	}
	if hidden == 1 && len(counts) > 1 {
		idx := -1
		for i, n := range counts {
			if !out[i].suppressed && n > 0 && (idx < 0 || n < counts[idx]) {
				idx = i
			}
		}
		if idx >= 0 {
			out[idx].secondary = true
		}
	}
	return out
}
