package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dissent-channel/dissent/internal/api"
	"github.com/dissent-channel/dissent/internal/service"
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
