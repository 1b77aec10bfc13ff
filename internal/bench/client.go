package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
)

// maxResponse bounds a response body the client reads.
const maxResponse = 16 << 20

// client speaks the JSON API v1, as any other client would.
type client struct {
	base string // "http://127.0.0.1:8080"
	hc   *http.Client
	// metricsToken is the server's server.metrics_token, sent to read
	// GET /metrics; without it the store's commit counters go unread.
	metricsToken string
}

func newClient(base string, conns int) *client {
	tr := &http.Transport{
		Proxy:               nil, // loopback only: never through a proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        conns + 16,
		MaxIdleConnsPerHost: conns + 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &client{base: base, hc: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// apiError is a response with an error status.
type apiError struct {
	Status int
	Detail string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Detail)
}

// do sends one request and decodes a JSON answer into out (if not nil).
func (c *client) do(ctx context.Context, method, path, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var p struct {
			Detail string `json:"detail"`
		}
		_ = json.Unmarshal(b, &p)
		if p.Detail == "" {
			p.Detail = http.StatusText(resp.StatusCode)
		}
		return &apiError{Status: resp.StatusCode, Detail: p.Detail}
	}
	if out != nil {
		// go-json-experiment/json reads the few members the load generator
		// keeps several times faster than encoding/json: on two cores the
		// generator's CPU is taken from the server it measures.
		return jsonv2.Unmarshal(b, out)
	}
	return nil
}

// The API's bodies, as far as the load generator needs them.
type (
	newUser struct {
		Username    string   `json:"username"`
		DisplayName string   `json:"display_name"`
		Email       string   `json:"email"`
		Password    string   `json:"password"`
		Roles       []string `json:"roles"`
		Eligible    bool     `json:"eligible"`
	}
	memoInput struct {
		Title      string   `json:"title"`
		Body       string   `json:"body"`
		Marking    string   `json:"marking"`
		Codrafters []string `json:"codrafters"`
	}
	memo struct {
		ID       string `json:"id"`
		Title    string `json:"title"`
		Revision int    `json:"revision"`
		State    string `json:"state"`
	}
	memoPage struct {
		Items      []memo `json:"items"`
		NextCursor string `json:"next_cursor"`
	}
	receipt struct {
		MemoID      string `json:"memo_id"`
		LedgerIndex int64  `json:"ledger_index"`
	}
)

func (c *client) signIn(ctx context.Context, username, password string) (string, error) {
	token, _, err := c.signInFrom(ctx, username, password, "")
	return token, err
}

// signInFrom signs in from a device that keeps the device token device
// ("" for none), and returns the token to keep from now on.
func (c *client) signInFrom(ctx context.Context, username, password, device string) (token, keep string, err error) {
	var out struct {
		Token  string `json:"token"`
		Device string `json:"device"`
	}
	in := map[string]string{"username": username, "password": password}
	if device != "" {
		in["device"] = device
	}
	err = c.do(ctx, "POST", "/api/v1/sessions", "", in, &out)
	return out.Token, out.Device, err
}

// createUser makes an account as the administrator (token), with a first
// password of the administrator's, and has its user sign in and choose
// u.Password, which makes their keys: as a person does.
func (c *client) createUser(ctx context.Context, token string, u newUser) error {
	own := u.Password
	u.Password = "initial-" + own
	if err := c.do(ctx, "POST", "/api/v1/users", token, u, nil); err != nil {
		return err
	}
	tok, err := c.signIn(ctx, u.Username, u.Password)
	if err != nil {
		return err
	}
	return c.do(ctx, "PUT", "/api/v1/me/password", tok, map[string]string{"current_password": u.Password, "new_password": own}, nil)
}

// setDistribution puts usernames on the standing distribution and returns
// those whose keys the office has yet to confirm.
func (c *client) setDistribution(ctx context.Context, token string, usernames []string) (awaiting []string, err error) {
	var out struct {
		Awaiting []string `json:"awaiting_confirmation"`
	}
	err = c.do(ctx, "PUT", "/api/v1/admin/distribution", token, map[string][]string{"usernames": usernames}, &out)
	return out.Awaiting, err
}

// confirmKeys has the office member (officeToken) confirm the keys of
// username, a principal, with the fingerprint the person (token) reads
// from their account.
func (c *client) confirmKeys(ctx context.Context, officeToken, username, token string) error {
	var me struct {
		Fingerprint string `json:"keys_fingerprint"`
	}
	if err := c.do(ctx, "GET", "/api/v1/me", token, nil, &me); err != nil {
		return err
	}
	return c.do(ctx, "POST", "/api/v1/office/key-confirmations/"+username, officeToken, map[string]any{"fingerprint": me.Fingerprint, "principal": true}, nil)
}

func (c *client) createMemo(ctx context.Context, token string, in memoInput) (memo, error) {
	var m memo
	err := c.do(ctx, "POST", "/api/v1/memos", token, in, &m)
	return m, err
}

func (c *client) invite(ctx context.Context, token, id string, usernames []string) error {
	return c.do(ctx, "POST", "/api/v1/memos/"+id+"/signers", token, map[string][]string{"usernames": usernames}, nil)
}

func (c *client) sign(ctx context.Context, token, id string, revision int) error {
	return c.do(ctx, "POST", "/api/v1/memos/"+id+"/signatures", token, map[string]int{"revision": revision}, nil)
}

func (c *client) submit(ctx context.Context, token, id string, revision int) (receipt, error) {
	var r receipt
	err := c.do(ctx, "POST", "/api/v1/memos/"+id+"/submit", token, map[string]int{"revision": revision}, &r)
	return r, err
}

func (c *client) read(ctx context.Context, token, id string) error {
	var m memo
	if err := c.do(ctx, "GET", "/api/v1/memos/"+id, token, nil, &m); err != nil {
		return err
	}
	if m.ID != id {
		return fmt.Errorf("bench: asked for memo %s, got %q", id, m.ID)
	}
	return nil
}

func (c *client) list(ctx context.Context, token, box, cursor string, limit int) (memoPage, error) {
	q := url.Values{"box": {box}, "limit": {strconv.Itoa(limit)}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var p memoPage
	err := c.do(ctx, "GET", "/api/v1/memos?"+q.Encode(), token, nil, &p)
	return p, err
}

// ready reports whether GET /readyz answers 200.
func (c *client) ready(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// metric reads one counter or gauge from GET /metrics (Prometheus text
// format), summed over its labels; ok is false when it is not there.
func (c *client) metric(ctx context.Context, name string) (v float64, ok bool) {
	if c.metricsToken == "" {
		return 0, false
	}
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/metrics", nil)
	if err != nil {
		return 0, false
	}
	req.Header.Set("Authorization", "Bearer "+c.metricsToken)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil || resp.StatusCode != http.StatusOK {
		return 0, false
	}
	for line := range bytes.Lines(b) {
		line = bytes.TrimSpace(line)
		if !bytes.HasPrefix(line, []byte(name)) || len(line) == len(name) {
			continue
		}
		if next := line[len(name)]; next != ' ' && next != '{' {
			continue
		}
		f := bytes.Fields(line)
		x, err := strconv.ParseFloat(string(f[len(f)-1]), 64)
		if err == nil {
			v, ok = v+x, true
		}
	}
	return v, ok
}

// loopback reports whether host (a name or an address, without a port) is
// this machine: the load generator sends nothing anywhere else.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkLoopbackURL refuses a URL whose host is not loopback.
func checkLoopbackURL(flag, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("bench: %s: %w", flag, err)
	}
	if !loopback(u.Hostname()) {
		return nil, fmt.Errorf("bench: %s %q is not a loopback address: the load generator only runs against this machine", flag, u.Redacted())
	}
	return u, nil
}
