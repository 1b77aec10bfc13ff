// Package crashtest kills a real server process with SIGKILL in the middle of
// a burst of submissions, restarts it, and checks that nothing acknowledged
// was lost: every receipt a client received is present and verifies against
// the signed ledger, the ledger is consistent with every checkpoint handed
// out, and no half-written memo is visible.
package crashtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/dissent-channel/dissent/internal/ledger"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dissent-crashtest")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "dissent")
	build := exec.Command("go", "build", "-race", "-o", binary, "github.com/dissent-channel/dissent/cmd/dissent")
	if os.Getenv("DISSENT_CRASH_NORACE") != "" {
		build = exec.Command("go", "build", "-o", binary, "github.com/dissent-channel/dissent/cmd/dissent")
	}
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		panic(fmt.Sprintf("build dissent: %v", err))
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running `dissent serve` child process.
type server struct {
	cmd *exec.Cmd
	url string
}

const fastConfig = `
[security]
argon_time = 1
argon_memory_kib = 64
weak_passwords_for_tests = true
argon_threads = 1
failed_sign_ins_per_hour = 1000
`

func setUp(t *testing.T) string {
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "dissent.toml"), []byte(fastConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "init", "--data", data, "--admin", "admin", "--password-stdin")
	cmd.Stdin = strings.NewReader("admin-password-1\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	return data
}

func start(t *testing.T, data string) *server {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--data", data, "--addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	urlc := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if u, ok := strings.CutPrefix(lines.Text(), "Dissent is ready at "); ok {
				urlc <- strings.TrimSuffix(u, "/")
			}
		}
	}()
	select {
	case u := <-urlc:
		// A failed round ends the test with this server running: kill it
		// then (killing a process already killed and waited for is a no-op).
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return &server{cmd: cmd, url: u}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the server did not start")
	}
	return nil
}

func (s *server) kill(t *testing.T) {
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = s.cmd.Wait()
}

type client struct {
	url, token string
	hc         *http.Client
}

func (c *client) do(method, path string, body any, out any) (int, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.url+path, r)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s: %w (%s)", path, err, b)
		}
	}
	return resp.StatusCode, nil
}

// addUser has the administrator make an account for u, whose user then
// signs in with the administrator's first password and chooses their own,
// u-password-1, which makes their keys.
func addUser(t *testing.T, admin *client, u string, roles []string) {
	t.Helper()
	first := "first-" + u + "-password-1"
	if code, err := admin.do("POST", "/api/v1/users", map[string]any{"username": u, "display_name": u, "email": u + "@example.test",
		"password": first, "roles": roles, "eligible": true}, nil); code != 201 || err != nil {
		t.Fatalf("create %s: %d %v", u, code, err)
	}
	c := signIn(t, admin.url, u, first)
	if code, err := c.do("PUT", "/api/v1/me/password", map[string]string{"current_password": first, "new_password": u + "-password-1"}, nil); code != 200 || err != nil {
		t.Fatalf("%s chooses a password: %d %v", u, code, err)
	}
}

// foundOffice has the custodians found the office with u, who reads them
// the fingerprint on their account: `dissent office found` with the shares
// that init wrote to the data folder, while the server runs.
func foundOffice(t *testing.T, url, data, u string) {
	t.Helper()
	var me struct {
		Fingerprint string `json:"keys_fingerprint"`
	}
	if code, err := signIn(t, url, u, u+"-password-1").do("GET", "/api/v1/me", nil, &me); code != 200 || err != nil {
		t.Fatalf("me %s: %d %v", u, code, err)
	}
	shares, err := filepath.Glob(filepath.Join(data, "recovery-shares", "*.txt"))
	if err != nil || len(shares) == 0 {
		t.Fatalf("no recovery shares in %s: %v", data, err)
	}
	args := append([]string{"office", "found", "--data", data, "--user", u, "--fingerprint", me.Fingerprint}, shares...)
	if out, err := exec.Command(binary, args...).CombinedOutput(); err != nil {
		t.Fatalf("dissent office found: %v\n%s", err, out)
	}
}

func signIn(t *testing.T, url, user, password string) *client {
	t.Helper()
	c := &client{url: url, hc: &http.Client{Timeout: 30 * time.Second}}
	var out struct{ Token string }
	if code, err := c.do("POST", "/api/v1/sessions", map[string]string{"username": user, "password": password}, &out); code != 201 || err != nil {
		t.Fatalf("sign in %s: %d %v", user, code, err)
	}
	c.token = out.Token
	return c
}

type receipt struct {
	MemoID      string `json:"memo_id"`
	Revision    int    `json:"revision"`
	ContentHash string `json:"content_hash"`
	LedgerIndex int64  `json:"ledger_index"`
	Checkpoint  string `json:"checkpoint"`
}

// submitOne drafts, signs and submits a memo; it returns the receipt only
// if the server acknowledged the submission.
func submitOne(c *client, n int) (*receipt, error) {
	var m struct {
		ID       string
		Revision int
	}
	body := strings.Repeat(fmt.Sprintf("Paragraph %d of a memo under load. ", n), 40)
	if code, err := c.do("POST", "/api/v1/memos", map[string]any{"title": fmt.Sprintf("Memo %d", n), "body": body, "marking": "UNCLASSIFIED"}, &m); code != 201 || err != nil {
		return nil, fmt.Errorf("create: %d %v", code, err)
	}
	if code, err := c.do("POST", "/api/v1/memos/"+m.ID+"/signatures", map[string]int{"revision": 1}, nil); code != 201 || err != nil {
		return nil, fmt.Errorf("sign: %d %v", code, err)
	}
	var rc receipt
	if code, err := c.do("POST", "/api/v1/memos/"+m.ID+"/submit", map[string]int{"revision": 1}, &rc); code != 201 || err != nil {
		return nil, fmt.Errorf("submit: %d %v", code, err)
	}
	return &rc, nil
}

// TestSIGKILLDuringSubmissions kills the server at random moments of a
// submission burst, 20 times (5 with -short), and checks every receipt
// after each restart.
func TestSIGKILLDuringSubmissions(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	data := setUp(t)
	srv := start(t, data)
	admin := signIn(t, srv.url, "admin", "admin-password-1")
	vkey, err := os.ReadFile(filepath.Join(data, "ledger.pub"))
	if err != nil {
		t.Fatal(err)
	}
	users := []string{"office", "auditor", "p1", "m1", "m2", "m3", "m4"}
	roles := map[string][]string{"office": {"office"}, "auditor": {"auditor"}, "p1": {"principal"}}
	for _, u := range users {
		r := roles[u]
		if r == nil {
			r = []string{"member"}
		}
		addUser(t, admin, u, r)
	}
	foundOffice(t, srv.url, data, "office")
	if code, err := admin.do("PUT", "/api/v1/admin/distribution", map[string]any{"usernames": []string{"p1"}}, nil); code != 200 || err != nil {
		t.Fatalf("distribution: %d %v", code, err)
	}
	members := []string{"m1", "m2", "m3", "m4"}
	tokens := map[string]string{}
	for _, m := range members {
		tokens[m] = signIn(t, srv.url, m, m+"-password-1").token
	}
	auditorToken := signIn(t, srv.url, "auditor", "auditor-password-1").token

	var (
		mu       sync.Mutex
		receipts []receiptOf
	)
	n := 0
	for round := range rounds {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for _, m := range members {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := &client{url: srv.url, token: tokens[m], hc: &http.Client{Timeout: 10 * time.Second}}
				for i := 0; ctx.Err() == nil && i < 200; i++ {
					mu.Lock()
					n++
					k := n
					mu.Unlock()
					rc, err := submitOne(c, k)
					if err != nil {
						return // the server died mid-request: nothing was acknowledged
					}
					mu.Lock()
					receipts = append(receipts, receiptOf{user: m, rc: *rc})
					mu.Unlock()
				}
			}()
		}
		time.Sleep(time.Duration(150+rand.IntN(600)) * time.Millisecond)
		srv.kill(t)
		cancel()
		wg.Wait()
		restarted := time.Now()
		srv = start(t, data)
		checkAll(t, srv.url, tokens, auditorToken, string(bytes.TrimSpace(vkey)), receipts, restarted)
		t.Logf("round %d: killed and restarted; %d receipts so far all verify", round+1, len(receipts))
	}
	if len(receipts) == 0 {
		t.Fatal("no submission completed: the load never ran")
	}
	srv.kill(t)
}

type receiptOf struct {
	user string
	rc   receipt
}

func checkAll(t *testing.T, url string, tokens map[string]string, auditor, vkey string, receipts []receiptOf, restarted time.Time) {
	t.Helper()
	hc := &http.Client{Timeout: 30 * time.Second}
	aud := &client{url: url, token: auditor, hc: hc}
	var latest ledger.Checkpoint
	var note string
	{
		req, _ := http.NewRequest("GET", url+"/api/v1/ledger/checkpoint", nil)
		req.Header.Set("Authorization", "Bearer "+auditor)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		note = string(b)
		if latest, err = ledger.OpenCheckpoint(b, vkey); err != nil {
			t.Fatalf("latest checkpoint: %v\n%s", err, note)
		}
	}
	for _, r := range receipts {
		c := &client{url: url, token: tokens[r.user], hc: hc}
		var m struct {
			State       string
			Revision    int
			ContentHash string `json:"content_hash"`
			Receipt     *receipt
		}
		if code, err := c.do("GET", "/api/v1/memos/"+r.rc.MemoID, nil, &m); code != 200 || err != nil {
			t.Fatalf("acknowledged memo %s lost after SIGKILL: %d %v", r.rc.MemoID, code, err)
		}
		if m.State != "submitted" || m.Receipt == nil || m.Receipt.LedgerIndex != r.rc.LedgerIndex || m.ContentHash != r.rc.ContentHash {
			t.Fatalf("memo %s after restart: state %s receipt %+v, want the receipt %+v", r.rc.MemoID, m.State, m.Receipt, r.rc)
		}
		cp, err := ledger.OpenCheckpoint([]byte(r.rc.Checkpoint), vkey)
		if err != nil {
			t.Fatalf("receipt checkpoint: %v", err)
		}
		var proof struct {
			Leaf   string
			Hashes []string
		}
		path := fmt.Sprintf("/api/v1/ledger/proof?index=%d&size=%d", r.rc.LedgerIndex, cp.Size)
		if code, err := aud.do("GET", path, nil, &proof); code != 200 || err != nil {
			t.Fatalf("proof: %d %v", code, err)
		}
		rp := make(tlog.RecordProof, len(proof.Hashes))
		for i, h := range proof.Hashes {
			rp[i], _ = tlog.ParseHash(h)
		}
		if err := ledger.VerifyInclusion([]byte(proof.Leaf), r.rc.LedgerIndex, rp, cp); err != nil {
			t.Fatalf("receipt of %s does not verify after restart: %v", r.rc.MemoID, err)
		}
		if !strings.Contains(proof.Leaf, `"memo.submit"`) || !strings.Contains(proof.Leaf, r.rc.ContentHash) {
			t.Fatalf("leaf %d is not the submission: %s", r.rc.LedgerIndex, proof.Leaf)
		}
		// The tree handed out then is a prefix of the tree now.
		if cp.Size < latest.Size {
			var cons struct{ Hashes []string }
			if code, err := aud.do("GET", fmt.Sprintf("/api/v1/ledger/consistency?from=%d&to=%d", cp.Size, latest.Size), nil, &cons); code != 200 || err != nil {
				t.Fatalf("consistency: %d %v", code, err)
			}
			tp := make(tlog.TreeProof, len(cons.Hashes))
			for i, h := range cons.Hashes {
				tp[i], _ = tlog.ParseHash(h)
			}
			if err := ledger.VerifyConsistency(cp, latest, tp); err != nil {
				t.Fatalf("the ledger forked after SIGKILL: %v", err)
			}
		}
	}
	// No half-written memo: everything an author lists opens.
	for user, tok := range tokens {
		c := &client{url: url, token: tok, hc: hc}
		var page struct {
			Items []struct{ ID, State string }
		}
		if code, err := c.do("GET", "/api/v1/memos?box=mine&limit=200", nil, &page); code != 200 || err != nil {
			t.Fatalf("list %s: %d %v", user, code, err)
		}
		for _, it := range page.Items {
			if code, err := c.do("GET", "/api/v1/memos/"+it.ID, nil, nil); code != 200 || err != nil {
				t.Fatalf("memo %s of %s does not open after SIGKILL: %d %v", it.ID, user, code, err)
			}
		}
	}
	// The server's own self-check runs at start; wait for it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st struct {
			LastCheck *struct {
				OK      bool
				Problem string
				At      time.Time
			} `json:"last_self_check"`
		}
		if code, err := aud.do("GET", "/api/v1/ledger/status", nil, &st); code != 200 || err != nil {
			t.Fatalf("ledger status: %d %v", code, err)
		}
		fresh := st.LastCheck != nil && st.LastCheck.At.After(restarted.Add(-time.Second))
		if fresh && st.LastCheck.OK {
			break
		}
		if fresh && !st.LastCheck.OK {
			t.Fatalf("ledger self-check after SIGKILL: %s", st.LastCheck.Problem)
		}
		if time.Now().After(deadline) {
			t.Fatal("no ledger self-check result after restart")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
