package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dissent-channel/dissent/internal/api"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// decodeSeeds are bodies the API sees: valid, nearly valid and hostile.
var decodeSeeds = []string{
	`{"title":"T","body":"B","marking":"UNCLASSIFIED","codrafters":["bob"]}`,
	`{"title":"T","body":"B\nline","marking":"UNCLASSIFIED","expected_revision":3}`,
	`{"held_at":"2026-03-03T15:00:00-05:00","minutes":30,"principal":"p1","attendees":["alice"],"notes":"N"}`,
	`{"usernames":["a","b"],"reason":"r"}`,
	`{"username":"u","display_name":"D","email":"e@x.test","password":"pw","roles":["member"],"eligible":true}`,
	`{"display_name":null,"roles":["member"],"eligible":false,"disabled":null}`,
	`{"title":"\u00e9\ud83d\ude00","body":"\\u0000"}`,
	`{"title":"a","title":"b"}`,
	`{"TITLE":"a"}`,
	`{"title":"a"}{}`,
	`{"title":"a"} `,
	`null`,
	`[]`,
	`{"codrafters":[[]]}`,
	`{"minutes":1e400}`,
	`{"held_at":"0000-01-01T00:00:00Z"}`,
	`{"title":"\xff"}`,
	"\ufeff{}",
	`{}`,
	``,
}

// FuzzDecodeStrict: DecodeStrict never panics; what it accepts is a valid
// UTF-8 JSON object, and re-marshals to JSON that it accepts again and that
// decodes to the same value.
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		roundTrip[service.MemoInput](t, body, true)
		roundTrip[service.EditInput](t, body, true)
		roundTrip[service.ReadersInput](t, body, true)
		roundTrip[service.NewUser](t, body, true)
		roundTrip[service.UserUpdate](t, body, true)
		roundTrip[service.Distribution](t, body, true)
		roundTrip[service.MeetingInput](t, body, false) // time.Time: compared as JSON
		roundTrip[map[string]any](t, body, true)
	})
}

func roundTrip[T any](t *testing.T, body []byte, deepEqual bool) {
	t.Helper()
	var v T
	if err := api.DecodeStrict(body, &v); err != nil {
		if err.Error() == "" {
			t.Errorf("%T: an error without a message", v)
		}
		return
	}
	trimmed := bytes.TrimSpace(body)
	if !utf8.Valid(body) || !json.Valid(body) || len(trimmed) == 0 || trimmed[0] != '{' {
		t.Fatalf("%T: accepted %q, which is not one valid UTF-8 JSON object", v, body)
	}
	again, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%T: accepted %q, which does not marshal back: %v", v, body, err)
	}
	var w T
	if err := api.DecodeStrict(again, &w); err != nil {
		t.Fatalf("%T: %q re-marshalled to %s, which is refused: %v", v, body, again, err)
	}
	if deepEqual && !reflect.DeepEqual(v, w) {
		t.Fatalf("%T: %q decodes to %#v, but its re-marshalling to %#v", v, body, v, w)
	}
	if third, _ := json.Marshal(w); !bytes.Equal(again, third) {
		t.Fatalf("%T: %q round-trips to %s, then %s", v, body, again, third)
	}
}

// FuzzCreateMemo posts arbitrary bodies to POST /api/v1/memos through the
// handler: never a 5xx, always a problem document or the memo asked for.
// It runs on SQLite only: fuzzing workers are killed without cleanups,
// which would leave PostgreSQL schemas behind.
func FuzzCreateMemo(f *testing.F) {
	e := newEnv(f, storetest.OpenSQLite(f))
	e.member("fuzzer")
	e.member("codrafter")
	e.user("contractor2", false, "member")
	token := e.token("fuzzer")
	for _, s := range decodeSeeds {
		f.Add([]byte(s), "application/json")
	}
	f.Add([]byte(`{"title":"T","body":"B","marking":"UNCLASSIFIED","codrafters":["codrafter"]}`), "application/json; charset=utf-8")
	f.Add([]byte(`{"title":"T","body":"B","marking":"UNCLASSIFIED","codrafters":["contractor2"]}`), "")
	f.Add([]byte(`{"title":"T","body":"`+strings.Repeat("x", 1<<20)+`","marking":"UNCLASSIFIED"}`), "application/json")
	f.Add([]byte(`{"title":"T","body":"B","marking":"UNCLASSIFIED"}`), "text/plain")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		req := httptest.NewRequest("POST", "/api/v1/memos", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		w := httptest.NewRecorder()
		e.mux.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%q (%q): %d %s\nlog:\n%s", body, contentType, w.Code, w.Body, e.log.Bytes())
		}
		if w.Code != http.StatusCreated {
			var p api.Problem
			if w.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Status != w.Code {
				t.Fatalf("%q: %d answered without a problem document: %s", body, w.Code, w.Body)
			}
			return
		}
		var in service.MemoInput
		if err := api.DecodeStrict(body, &in); err != nil {
			t.Fatalf("%q was created, but DecodeStrict refuses it: %v", body, err)
		}
		var m service.Memo
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if m.Title != in.Title || m.Body != in.Body || m.Marking != in.Marking || m.State != "draft" || m.Revision != 1 || len(m.Authors) != 1+len(in.Codrafters) {
			t.Fatalf("%q created %+v", body, m)
		}
	})
}

// FuzzQueryNumbers sends any text as the whole numbers the ledger and
// figures routes read from the query (index, size, from, to, year), as an
// auditor, through the handler: never a 5xx; text that is not a whole
// number is a 400 naming the first such parameter; a number is answered
// 200 exactly when it is in range for a ledger of the size it has, with
// what was asked for, and 422 otherwise.
func FuzzQueryNumbers(f *testing.F) {
	e := newEnv(f, storetest.OpenSQLite(f))
	e.user("auditor", false, "auditor")
	token := e.token("auditor")
	db, ok := e.h.Store.(*sqlstore.DB)
	if !ok {
		f.Fatalf("store %T", e.h.Store)
	}
	var n int64
	if err := db.Raw().QueryRowContext(e.h.Ctx, `SELECT COUNT(*) FROM ledger_leaves`).Scan(&n); err != nil {
		f.Fatal(err)
	}
	if n < 2 {
		f.Fatalf("a ledger of %d entries", n)
	}
	routes := []struct {
		path  string
		names []string
	}{
		{"/api/v1/ledger/proof", []string{"index"}},
		{"/api/v1/ledger/proof", []string{"index", "size"}},
		{"/api/v1/ledger/consistency", []string{"from", "to"}},
		{"/api/v1/stats", []string{"year"}},
		{"/api/v1/stats/csv", []string{"year"}},
	}
	num := func(i int64) string { return strconv.FormatInt(i, 10) }
	for route, c := range [][2]string{
		{"0", ""}, {num(n - 1), ""}, {num(n), ""}, {"-1", ""}, {"x", ""}, {"", ""}, {"+1", ""}, {"0x1", ""},
		{"0", num(n)}, {"0", "1"}, {"1", "1"}, {"0", "0"}, {"0", num(n + 1000)}, {"x", "1"}, {"1", "x"}, {"x", "y"},
		{"1", num(n)}, {"1", "1"}, {"0", "1"}, {num(n), num(n - 1)}, {"9223372036854775807", "9223372036854775807"}, {"1", "9223372036854775808"},
		{"2026", ""}, {"1970", ""}, {"9998", ""}, {"10000", ""}, {"-9223372036854775808", ""}, {"1e3", ""}, {" 2026", ""},
		{"2026", ""}, {"4294969322", ""},
	} {
		f.Add(uint8(min(route/8, 4)), c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, route uint8, a, b string) {
		r := routes[int(route)%len(routes)]
		q := url.Values{}
		vals := []string{a, b}
		for i, name := range r.names {
			q.Set(name, vals[i])
		}
		req := httptest.NewRequest("GET", r.path+"?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		e.mux.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s?%s: %d %s\nlog:\n%s", r.path, q.Encode(), w.Code, w.Body, e.log.Bytes())
		}
		// The numbers as the route should read them; the first that is
		// not one is the one a 400 names.
		var nums []int64
		malformed := ""
		for i, name := range r.names {
			v, err := strconv.ParseInt(vals[i], 10, 64)
			if err != nil && malformed == "" {
				malformed = name
			}
			nums = append(nums, v)
		}
		if w.Code != http.StatusOK {
			var p api.Problem
			if w.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Status != w.Code {
				t.Fatalf("%s?%s: %d answered without a problem document: %s", r.path, q.Encode(), w.Code, w.Body)
			}
			if malformed != "" {
				if w.Code != http.StatusBadRequest || len(p.Errors) != 1 || p.Errors[0].Field != malformed {
					t.Fatalf("%s?%s: %d %+v, want 400 naming %s", r.path, q.Encode(), w.Code, p, malformed)
				}
				return
			}
		} else if malformed != "" {
			t.Fatalf("%s?%s: 200, but %s is not a whole number", r.path, q.Encode(), malformed)
		}
		var want bool
		switch r.path {
		case "/api/v1/ledger/proof":
			size := n
			if len(nums) == 2 {
				size = nums[1]
			}
			want = 0 <= nums[0] && nums[0] < size && size <= n
		case "/api/v1/ledger/consistency":
			want = 1 <= nums[0] && nums[0] <= nums[1] && nums[1] <= n
		default:
			want = 1971 <= nums[0] && nums[0] <= service.MaxStatsYear
		}
		if w.Code != map[bool]int{true: http.StatusOK, false: http.StatusUnprocessableEntity}[want] {
			t.Fatalf("%s?%s (a ledger of %d entries): %d %s", r.path, q.Encode(), n, w.Code, w.Body)
		}
		if !want {
			return
		}
		switch r.path {
		case "/api/v1/ledger/proof", "/api/v1/ledger/consistency":
			var p service.Proof
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			if r.path == "/api/v1/ledger/proof" && (p.Index != nums[0] || p.Size != map[bool]int64{true: nums[len(nums)-1], false: n}[len(nums) == 2] || p.Leaf == "") {
				t.Fatalf("%s?%s: %+v", r.path, q.Encode(), p)
			}
		case "/api/v1/stats":
			var st struct {
				Year int64 `json:"year"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || st.Year != nums[0] {
				t.Fatalf("%s?%s: the figures of %d (%v)", r.path, q.Encode(), st.Year, err)
			}
		case "/api/v1/stats/csv":
			if cd := w.Header().Get("Content-Disposition"); !strings.Contains(cd, `"dissent-figures-`+num(nums[0])+`.csv"`) {
				t.Fatalf("%s?%s: %s", r.path, q.Encode(), cd)
			}
		}
	})
}
