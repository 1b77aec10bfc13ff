package service

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/workdays"
)

func shownAs(cs []Count) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.String()
	}
	return out
}

// TestSuppress: known tables, expected suppressed output.
func TestSuppress(t *testing.T) {
	const k = 5
	for _, c := range []struct {
		name   string
		counts []int
		known  bool
		want   []string
	}{
		{"nothing small shows everything", []int{0, 12, 30}, true, []string{"0", "12", "30"}},
		{"a lone small cell takes the smallest cell that protects it", []int{3, 20, 40, 100}, true, []string{"<5", "suppressed", "40", "100"}},
		// Hiding the 50 beside the 1 would do, but a 4 would have had the 5
		// hidden instead: showing the 5 would tell the small cell is not 4.
		{"cells whose choice would narrow a small one withhold the table", []int{1, 5, 50}, true, []string{"suppressed", "suppressed", "suppressed"}},
		{"the review's example: only a 1 hides both sevens", []int{1, 7, 7}, true, []string{"suppressed", "suppressed", "suppressed"}},
		{"two small cells that pin each other down take a third", []int{4, 4, 40}, true, []string{"<5", "<5", "suppressed"}},
		{"small cells whose sum leaves each free need no more", []int{2, 2, 2, 9}, true, []string{"<5", "<5", "<5", "9"}},
		{"a table that cannot be protected is withheld, zeros too", []int{6, 1, 0}, true, []string{"suppressed", "suppressed", "suppressed"}},
		{"a table under a hidden count is withheld", []int{7, 9}, false, []string{"suppressed", "suppressed"}},
		{"a table of fewer memos than the threshold is withheld", []int{1, 0, 2}, true, []string{"suppressed", "suppressed", "suppressed"}},
		{"an empty table shows zeros", []int{0, 0}, false, []string{"0", "0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := shownAs(suppress(c.counts, k, c.known)); !slices.Equal(got, c.want) {
				t.Errorf("suppress(%v) = %v, want %v", c.counts, got, c.want)
			}
		})
	}
}

// TestSuppressRevealsNothing checks the rule against a reader who knows it:
// for every table of up to four cells of 0 to 12, given the total and what
// is shown ("<5" is 1 to 4, a lone "suppressed" cell is 5 or more, a
// withheld table anything), every small cell could still be any of 1 to 4.
func TestSuppressRevealsNothing(t *testing.T) {
	const k, top = 5, 12
	var walk func(prefix []int)
	checked := 0
	walk = func(prefix []int) {
		if len(prefix) >= 1 {
			checkTable(t, prefix, k)
			checked++
		}
		if len(prefix) == 4 {
			return
		}
		for v := 0; v <= top; v++ {
			walk(append(slices.Clone(prefix), v))
		}
	}
	walk(nil)
	if checked < 20000 {
		t.Fatalf("checked only %d tables", checked)
	}
}

// TestSuppressChoiceRevealsNothing: a reader who knows the rules sees which
// cells are hidden, not only their sum; every table of the same length and
// total that suppress shows the same way must leave each "<5" cell free to
// be any of 1 to 4. Tables of a total up to 16 (three cells) and 12 (four)
// are tried in full, so each answer's every possible table is among them.
func TestSuppressChoiceRevealsNothing(t *testing.T) {
	const k = 5
	for _, c := range []struct{ cells, top int }{{2, 16}, {3, 16}, {4, 12}} {
		// answers[total][shown] lists the tables behind each answer.
		answers := map[int]map[string][][]int{}
		var walk func(prefix []int, total int)
		walk = func(prefix []int, total int) {
			if len(prefix) == c.cells {
				out := suppress(prefix, k, true)
				key := fmt.Sprint(shownAs(out))
				if answers[total] == nil {
					answers[total] = map[string][][]int{}
				}
				answers[total][key] = append(answers[total][key], prefix)
				return
			}
			for v := 0; total+v <= c.top; v++ {
				walk(append(slices.Clone(prefix), v), total+v)
			}
		}
		walk(nil, 0)
		for total, byAnswer := range answers {
			for answer, tables := range byAnswer {
				out := suppress(tables[0], k, true)
				for i, cell := range out {
					if cell.show != shownSmall {
						continue
					}
					values := map[int]bool{}
					for _, tb := range tables {
						values[tb[i]] = true
					}
					if len(values) < k-1 {
						t.Errorf("total %d shown as %s: cell %d can only be %v (tables %v)", total, answer, i, values, tables)
					}
				}
			}
		}
	}
}

func checkTable(t *testing.T, counts []int, k int) {
	out := suppress(counts, k, true)
	total := 0
	for _, n := range counts {
		total += n
	}
	withheld := true
	for _, c := range out {
		withheld = withheld && c.show == shownHidden
	}
	// What the reader may assume of each cell.
	lo, hi := make([]int, len(out)), make([]int, len(out))
	for i, c := range out {
		switch {
		case c.show == shownNumber:
			lo[i], hi[i] = c.n, c.n
		case c.show == shownSmall:
			lo[i], hi[i] = 1, k-1
		case withheld:
			lo[i], hi[i] = 0, total
		default:
			lo[i], hi[i] = k, total
		}
		if c.n < lo[i] || c.n > hi[i] {
			t.Fatalf("%v: cell %d = %d shown as %s", counts, i, c.n, c)
		}
	}
	for i, c := range out {
		if c.show != shownSmall {
			continue
		}
		for v := 1; v < k; v++ {
			// Can the other cells, each within its bounds, sum to total-v?
			rest, min, max := total-v, 0, 0
			for j := range out {
				if j != i {
					min, max = min+lo[j], max+hi[j]
				}
			}
			if rest < min || rest > max {
				t.Fatalf("%v shown as %v: a reader can tell cell %d is not %d", counts, shownAs(out), i, v)
			}
		}
	}
}

// memoFacts builds the facts of a memo submitted at sub that ended in
// state, acknowledged ackWD working days after receipt (-1: never) and
// replied replyWD working days after (-1: never).
func memoFacts(cal *workdays.Calendar, sub time.Time, state channel.State, ackWD, replyWD, authors int) store.MemoFacts {
	d := channel.Profiles["state-2fam070"].Deadlines(cal, sub)
	f := store.MemoFacts{State: string(state), SubmittedAt: micros(sub), AcknowledgeBy: micros(d.AcknowledgeBy),
		ReplyBy: micros(d.ReplyBy), ReplyLatest: micros(d.ReplyLatest), AuthorsCount: authors}
	received := cal.Received(sub)
	if replyWD >= 0 {
		f.RepliedAt = micros(cal.AddWorkdays(received, replyWD).Add(-time.Hour))
		f.AcknowledgedAt = f.RepliedAt
	}
	if ackWD >= 0 {
		f.AcknowledgedAt = micros(cal.AddWorkdays(received, ackWD).Add(-time.Hour))
	}
	return f
}

// TestComputeStats: a known year, its expected suppressed figures.
func TestComputeStats(t *testing.T) {
	cal := usFederal(t)
	jan := func(day int) time.Time { return time.Date(2026, 1, 5+day%20, 10, 0, 0, 0, cal.Location()) }
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, cal.Location())
	var facts []store.MemoFacts
	add := func(n int, state channel.State, ack, reply, authors int) {
		for range n {
			facts = append(facts, memoFacts(cal, jan(len(facts)), state, ack, reply, authors))
		}
	}
	// 30 memos. Closed 12 and replied 6: 12 replied within 30 working
	// days, 5 within 60 and 1 after; one acknowledged late.
	add(10, channel.Closed, 1, 20, 1)
	add(1, channel.Closed, 5, 70, 1)
	add(1, channel.Closed, 2, 45, 2)
	add(2, channel.Replied, 2, 25, 3)
	add(4, channel.Replied, 1, 40, 4)
	// Acknowledged 5: a reply still owed, all overdue by June.
	add(5, channel.Acknowledged, 2, -1, 12)
	// Submitted 3, never acknowledged; withdrawn 2; returned 2.
	add(3, channel.Submitted, -1, -1, 30)
	add(2, channel.Withdrawn, -1, -1, 60)
	add(2, channel.Returned, -1, -1, 3)

	st := computeStats(2026, facts, cal, now, 5)
	got, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "year": 2026,
  "suppression_threshold": 5,
  "submitted": 30,
  "states": {
    "acknowledged": 5,
    "appealed": 0,
    "closed": 12,
    "replied": 6,
    "returned": "\u003c5",
    "submitted": "\u003c5",
    "withdrawn": "\u003c5"
  },
  "awaiting_acknowledgement": {
    "overdue": "suppressed",
    "within_deadline": "suppressed"
  },
  "acknowledged": {
    "ended_before_due": 0,
    "late": "\u003c5",
    "on_time": "suppressed"
  },
  "acknowledged_on_time_share": null,
  "awaiting_reply": {
    "overdue": 5,
    "within_deadline": 0
  },
  "replied": {
    "ended_before_due": "suppressed",
    "late": "suppressed",
    "on_time": "suppressed",
    "within_latest": "suppressed"
  },
  "replied_on_time_share": null,
  "replied_by_latest_share": null,
  "median_workdays_to_reply": null,
  "median_days_to_reply": null,
  "appeals": 0,
  "awaiting_appeal_decision": {
    "overdue": 0,
    "within_deadline": 0
  },
  "appeals_decided": {
    "late": 0,
    "on_time": 0
  },
  "signer_bands": {
    "1": 11,
    "2-5": 9,
    "21-50": "\u003c5",
    "51+": "\u003c5",
    "6-20": 5
  }
}`
	if string(got) != want {
		t.Errorf("figures:\n%s\nwant\n%s", got, want)
	}

	t.Run("a year of large counts publishes shares and medians", func(t *testing.T) {
		var big []store.MemoFacts
		for i := range 40 {
			wd := 10 + i // 10 to 49 working days: 21 within 30, 19 within 31 to 60
			ack := 1
			if i%8 == 0 {
				ack = 4 // late: 5 of 40
			}
			big = append(big, memoFacts(cal, jan(i), channel.Closed, ack, wd, 1+i%3))
		}
		st := computeStats(2026, big, cal, now, 5)
		if st.AcknowledgedOnTimeShare == nil || *st.AcknowledgedOnTimeShare != 0.875 {
			t.Errorf("on-time share %v, want 0.875", st.AcknowledgedOnTimeShare)
		}
		if st.RepliedOnTimeShare == nil || *st.RepliedOnTimeShare != 0.525 || st.RepliedByLatestShare == nil || *st.RepliedByLatestShare != 1 {
			t.Errorf("reply shares %v, %v, want 0.525 and 1", st.RepliedOnTimeShare, st.RepliedByLatestShare)
		}
		if st.MedianWorkdaysToReply == nil || *st.MedianWorkdaysToReply != 29.5 {
			t.Errorf("median working days %v, want 29.5", st.MedianWorkdaysToReply)
		}
		if st.MedianDaysToReply == nil || *st.MedianDaysToReply < 29.5 {
			t.Errorf("median days %v: at least as many calendar days as working days", st.MedianDaysToReply)
		}
	})

	t.Run("a year under the threshold shows only that", func(t *testing.T) {
		st := computeStats(2026, facts[:3], cal, now, 5)
		var b bytes.Buffer
		if err := st.WriteCSV(&b); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n")[4:] {
			if v := line[strings.LastIndexByte(line, ',')+1:]; v != "<5" && v != "suppressed" && v != "" {
				t.Errorf("published %q", line)
			}
		}
	})

	t.Run("CSV has the JSON's cells in a fixed order", func(t *testing.T) {
		var b bytes.Buffer
		if err := st.WriteCSV(&b); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(b.String()), "\n")
		for _, want := range []string{"table,cell,value", "submitted,,30", "states,submitted,<5", "states,closed,12",
			"acknowledged,late,<5", "acknowledged,on_time_share,", "replied,on_time,suppressed", "signer_bands,51+,<5"} {
			if !slices.Contains(lines, want) {
				t.Errorf("CSV lacks %q:\n%s", want, b.String())
			}
		}
	})
}
