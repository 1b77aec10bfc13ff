package crashtest

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hostile are requests an attacker sends: malformed, oversized, wrong
// types, unknown fields, invalid UTF-8, bad tokens, path tricks.
func hostile(r *rand.Rand, url, token string) *http.Request {
	bodies := [][]byte{
		[]byte(`{"title":`),
		[]byte(`{"title":"x","body":"y","marking":"UNCLASSIFIED","admin":true}`),
		[]byte(`{"title":123,"body":[],"marking":null}`),
		[]byte("{\"title\":\"\xff\xfe\",\"body\":\"b\",\"marking\":\"UNCLASSIFIED\"}"),
		[]byte(`{"title":"a\u0000b","body":"b","marking":"UNCLASSIFIED"}`),
		bytes.Repeat([]byte("A"), 3<<20),
		[]byte(`{"title":"x","body":"` + strings.Repeat("x", 2<<20) + `","marking":"UNCLASSIFIED"}`),
		[]byte(`[]`),
		[]byte(`{"title":"x","body":"y","marking":"UNCLASSIFIED"}{"again":1}`),
		[]byte(strings.Repeat("[", 100000)),
	}
	paths := []string{"/api/v1/memos", "/api/v1/memos/../../etc/passwd", "/api/v1/memos/aaaaaaaaaaaaaaaaaaaaaaaaaa/submit",
		"/api/v1/memos/%00/signatures", "/api/v1/sessions", "/api/v1/users", "/api/v1/admin/distribution"}
	methods := []string{"POST", "PUT", "DELETE", "PATCH"}
	req, _ := http.NewRequest(methods[r.IntN(len(methods))], url+paths[r.IntN(len(paths))], bytes.NewReader(bodies[r.IntN(len(bodies))]))
	switch r.IntN(4) {
	case 0:
		req.Header.Set("Authorization", "Bearer "+token)
	case 1:
		req.Header.Set("Authorization", "Bearer "+strings.Repeat("x", 43))
	case 2:
		req.Header.Set("Authorization", "Basic YWRtaW46YWRtaW4=")
	}
	if r.IntN(3) > 0 {
		req.Header.Set("Content-Type", "application/json")
	} else {
		req.Header.Set("Content-Type", "text/xml")
	}
	return req
}

// TestFloodWhileSubmitting floods the API with hostile requests while
// legitimate submissions go on: no hostile request gets a 5xx, and no
// legitimate submission is lost.
func TestFloodWhileSubmitting(t *testing.T) {
	data := setUp(t)
	srv := start(t, data)
	defer srv.kill(t)
	admin := signIn(t, srv.url, "admin", "admin-password-1")
	for _, u := range []string{"office", "m1", "m2"} {
		role := "member"
		if u == "office" {
			role = "office"
		}
		addUser(t, admin, u, []string{role})
	}
	foundOffice(t, srv.url, data, "office")
	m1, m2 := signIn(t, srv.url, "m1", "m1-password-1"), signIn(t, srv.url, "m2", "m2-password-1")

	deadline := time.Now().Add(4 * time.Second)
	var hostileSent, fivexx atomic.Int64
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			hc := &http.Client{Timeout: 10 * time.Second}
			for i := 0; i < 5000 && time.Now().Before(deadline); i++ {
				resp, err := hc.Do(hostile(r, srv.url, m1.token))
				if err != nil {
					continue // the server may cut an oversized upload short
				}
				if resp.StatusCode >= 500 {
					fivexx.Add(1)
				}
				resp.Body.Close()
				hostileSent.Add(1)
			}
		}()
	}
	var mu sync.Mutex
	var got []receiptOf
	for _, c := range []*client{m1, m2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500 && time.Now().Before(deadline); i++ {
				rc, err := submitOne(c, i)
				if err != nil {
					t.Errorf("a legitimate submission failed under the flood: %v", err)
					return
				}
				mu.Lock()
				got = append(got, receiptOf{rc: *rc})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if fivexx.Load() > 0 {
		t.Fatalf("%d of %d hostile requests got a 5xx", fivexx.Load(), hostileSent.Load())
	}
	if len(got) == 0 {
		t.Fatal("no legitimate submission went through")
	}
	office := signIn(t, srv.url, "office", "office-password-1")
	for _, r := range got {
		if code, err := office.do("GET", "/api/v1/memos/"+r.rc.MemoID, nil, nil); code != 200 || err != nil {
			t.Fatalf("submitted memo %s lost: %d %v", r.rc.MemoID, code, err)
		}
	}
	t.Logf("%d hostile requests, %d legitimate submissions, none lost", hostileSent.Load(), len(got))
}
