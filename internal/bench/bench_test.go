package bench

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/config"
	httpserver "github.com/dissent-channel/dissent/internal/server"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

func TestPercentile(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		out := make([]time.Duration, len(n))
		for i, x := range n {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	for _, c := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"none", nil, 99, 0},
		{"one", ms(7), 50, 7 * time.Millisecond},
		{"median of four is the second", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 100 is the 99th", ms(seq(100)...), 99, 99 * time.Millisecond},
		{"p99 of 1000 is the 990th", ms(seq(1000)...), 99, 990 * time.Millisecond},
		{"max", ms(1, 2, 3), 100, 3 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := percentile(c.sorted, c.p); got != c.want {
				t.Errorf("percentile(%v) = %v, want %v", c.p, got, c.want)
			}
		})
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

func TestLoopbackOnly(t *testing.T) {
	for _, c := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080", true},
		{"http://127.9.9.9:8080/", true},
		{"http://[::1]:8080", true},
		{"http://localhost:8080", true},
		{"postgres://postgres@127.0.0.1:5432/test?sslmode=disable", true},
		{"http://10.0.0.1:8080", false},
		{"http://example.com", false},
		{"postgres://postgres@db.internal:5432/test", false},
		{"http://0.0.0.0:8080", false},
	} {
		if _, err := checkLoopbackURL("--url", c.url); (err == nil) != c.ok {
			t.Errorf("checkLoopbackURL(%q): error %v, want ok=%v", c.url, err, c.ok)
		}
	}
}

func TestOptionsAreBounded(t *testing.T) {
	good := Options{Exe: "dissent", Store: "sqlite", Clients: 8, Duration: time.Second, Pool: 10, CablePool: 1}
	for _, kind := range []string{"", Seeded, SubmitSmall, SubmitCable} {
		o := good
		o.ReadMemos = kind
		if err := o.check(); err != nil {
			t.Fatalf("good options (memos to read %q) refused: %v", kind, err)
		}
	}
	slow := good
	slow.Rate = 0.5
	if err := slow.check(); err != nil {
		t.Fatalf("a rate of one every two seconds refused: %v", err)
	}
	for _, c := range []struct {
		name string
		edit func(o *Options)
	}{
		{"too many clients", func(o *Options) { o.Clients = MaxClients + 1 }},
		{"no duration", func(o *Options) { o.Duration = 0 }},
		{"too long", func(o *Options) { o.Duration = MaxDuration + time.Second }},
		{"too many seeds", func(o *Options) { o.Seed = MaxSeed + 1 }},
		{"no pool", func(o *Options) { o.Pool = 0 }},
		{"unknown store", func(o *Options) { o.Store = "mysql" }},
		{"postgres without a server", func(o *Options) { o.Store = "postgres" }},
		{"a remote server", func(o *Options) { o.URL = "http://192.0.2.1:8080" }},
		{"startup of a server it did not start", func(o *Options) { o.URL = "http://127.0.0.1:8080"; o.Startup = true }},
		{"unknown workload", func(o *Options) { o.Workloads = []string{"write-only"} }},
		{"memos no workload submits", func(o *Options) { o.ReadMemos = Read }},
		{"a negative rate", func(o *Options) { o.Rate = -1 }},
		{"a rate past the bound", func(o *Options) { o.Rate = MaxRate + 1 }},
		{"a rate that is not a number", func(o *Options) { o.Rate = math.NaN() }},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := good
			c.edit(&o)
			if err := o.check(); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// TestRunAgainstServer runs every workload, briefly, against a server in
// this process: what the workloads ask of the API works, and nothing fails.
func TestRunAgainstServer(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 50-odd users and memos with 51 signatures")
	}
	url := testServer(t)
	var out strings.Builder
	res, err := Run(context.Background(), Options{
		URL: url, Admin: "admin", AdminPassword: servicetest.Password("admin"), MetricsToken: testMetricsToken, Store: "sqlite",
		Clients: 2, Duration: 300 * time.Millisecond, Pool: 4, CablePool: 1, Seed: 3,
	}, &out, io.Discard, false)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if res.Seed == nil || res.Seed.Ops != 3 {
		t.Errorf("seed: %+v, want 3 memos", res.Seed)
	}
	if len(res.Workloads) != len(Workloads) {
		t.Fatalf("ran %d workloads, want %d", len(res.Workloads), len(Workloads))
	}
	for _, w := range res.Workloads {
		if w.Ops == 0 || w.Errors > 0 {
			t.Errorf("%s: %d ops, %d errors %v %v", w.Name, w.Ops, w.Errors, w.ErrorKinds, w.ErrorSamples)
		}
		if w.P50 <= 0 || w.P99 < w.P50 {
			t.Errorf("%s: p50 %v, p99 %v", w.Name, w.P50, w.P99)
		}
		if w.Limit == "" || len(w.Targets) == 0 {
			t.Errorf("%s: no limit or targets", w.Name)
		}
		// Submissions and reads commit; SQLite's metrics say how many
		// commits shared an fsync.
		if grouped := w.Name == SubmitSmall || w.Name == SubmitCable || w.Name == Read; grouped != (w.CommitsPerSync >= 1) {
			t.Errorf("%s: %.2f commits per fsync", w.Name, w.CommitsPerSync)
		}
	}
	for _, want := range []string{"submit-small", "submit-cable", "read", "inbox", "login", "limits (measured now)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}

	// A later run on the same server reads only the memos of one kind,
	// told apart by their titles: the small and the cable memos above, up
	// to its pools of 4 and 1 (a slow machine may have submitted fewer in
	// 300 ms).
	submitted := map[string]int64{}
	for _, w := range res.Workloads {
		submitted[w.Name] = w.Ops
	}
	for kind, want := range map[string]string{
		SubmitSmall: fmt.Sprintf("%d submit-small memos read in turn", min(submitted[SubmitSmall], 4)),
		SubmitCable: fmt.Sprintf("%d submit-cable memos read in turn", min(submitted[SubmitCable], 1)),
	} {
		res, err := Run(context.Background(), Options{
			URL: url, Admin: "admin", AdminPassword: servicetest.Password("admin"), MetricsToken: testMetricsToken, Store: "sqlite",
			Clients: 2, Duration: 200 * time.Millisecond, Pool: 4, CablePool: 1, Workloads: []string{Read}, ReadMemos: kind,
		}, io.Discard, io.Discard, false)
		if err != nil {
			t.Fatalf("read %s memos: %v", kind, err)
		}
		if w := res.Workloads[0]; w.Note != want || w.Ops == 0 || w.Errors > 0 {
			t.Errorf("read %s memos: %q, %d ops, %d errors; want %q", kind, w.Note, w.Ops, w.Errors, want)
		}
	}

	// At a fixed rate the server is offered 20 reads in 400 ms.
	res, err = Run(context.Background(), Options{
		URL: url, Admin: "admin", AdminPassword: servicetest.Password("admin"), MetricsToken: testMetricsToken, Store: "sqlite",
		Clients: 4, Duration: 400 * time.Millisecond, Pool: 4, CablePool: 1, Workloads: []string{Read}, Rate: 50,
	}, io.Discard, io.Discard, false)
	if err != nil {
		t.Fatalf("reads at a fixed rate: %v", err)
	}
	if w := res.Workloads[0]; w.Offered != 50 || w.Ops == 0 || w.Errors > 0 || w.Ops+w.Unsent != 20 {
		t.Errorf("reads at 50/s for 400 ms: offered %v, %d ops, %d unsent, %d errors; want 20 in all", w.Offered, w.Ops, w.Unsent, w.Errors)
	}
}

// TestOfficeNotFounded: a run against a server whose office the
// custodians have not founded says so, instead of measuring submissions
// that every server refuses.
func TestOfficeNotFounded(t *testing.T) {
	_, err := Run(context.Background(), Options{
		URL: serve(t, false), Admin: "admin", AdminPassword: servicetest.Password("admin"), Store: "sqlite",
		Clients: 1, Duration: 100 * time.Millisecond, Pool: 1, CablePool: 1, Workloads: []string{SubmitSmall},
	}, io.Discard, io.Discard, false)
	if err == nil || !strings.Contains(err.Error(), "is not founded: found it with `dissent office found` first") {
		t.Errorf("a run against a server without an office: %v", err)
	}
}

// TestReadMemosNoneOfTheKind asks to read cable memos where there are none:
// the run says which workload makes them, instead of reading nothing.
func TestReadMemosNoneOfTheKind(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 50-odd users")
	}
	_, err := Run(context.Background(), Options{
		URL: testServer(t), Admin: "admin", AdminPassword: servicetest.Password("admin"), Store: "sqlite",
		Clients: 2, Duration: 200 * time.Millisecond, Pool: 4, CablePool: 1, Workloads: []string{Read}, ReadMemos: SubmitCable,
	}, io.Discard, io.Discard, false)
	if err == nil || !strings.Contains(err.Error(), "no submit-cable memos to read: run the submit-cable workload first") {
		t.Errorf("read cable memos on a server with none: %v", err)
	}
}

// TestInboxAlone runs the inbox workload on its own against a new
// deployment: it submits the memos the office's list needs first, instead
// of counting an empty list as an error on every request.
func TestInboxAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 50-odd users")
	}
	var out strings.Builder
	res, err := Run(context.Background(), Options{
		URL: testServer(t), Admin: "admin", AdminPassword: servicetest.Password("admin"), Store: "sqlite",
		Clients: 2, Duration: 300 * time.Millisecond, Pool: 4, CablePool: 1, Workloads: []string{Inbox},
	}, &out, io.Discard, false)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if len(res.Workloads) != 1 {
		t.Fatalf("ran %d workloads, want 1", len(res.Workloads))
	}
	if w := res.Workloads[0]; w.Ops == 0 || w.Errors > 0 {
		t.Errorf("inbox: %d ops, %d errors %v %v", w.Ops, w.Errors, w.ErrorKinds, w.ErrorSamples)
	}
}

// testServer serves a new SQLite deployment in this process, its office
// founded with bench-office as the custodians would, and returns its URL.
func testServer(t *testing.T) string {
	t.Helper()
	return serve(t, true)
}

// serve serves a new SQLite deployment in this process, with the office
// founded or not, and returns its URL.
func serve(t *testing.T, founded bool) string {
	t.Helper()
	h := servicetest.New(t, storetest.OpenSQLite(t))
	if founded {
		const office = "bench-office"
		if _, err := h.Svc.CreateUser(h.Ctx, h.Admin, service.NewUser{Username: office, DisplayName: "Bench office", Email: "office@bench.invalid",
			Password: "initial-" + password(office), Roles: []string{"office"}}); err != nil {
			t.Fatal(err)
		}
		tok, _, err := h.Svc.SignIn(h.Ctx, office, "initial-"+password(office))
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Svc.ChangePassword(h.Ctx, h.Authenticate(tok), "initial-"+password(office), password(office)); err != nil {
			t.Fatal(err)
		}
		tok, _, err = h.Svc.SignIn(h.Ctx, office, password(office))
		if err != nil {
			t.Fatal(err)
		}
		me, err := h.Svc.Me(h.Ctx, h.Authenticate(tok))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.Svc.FoundOffice(h.Ctx, h.Shares, office, me.KeysFingerprint); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(t.TempDir(), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.MetricsToken = testMetricsToken
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ts := httptest.NewServer(httpserver.Handler(h.Svc, cfg, log, nil))
	t.Cleanup(ts.Close)
	return ts.URL
}

// TestReuseNeedsItsStore checks that a run on a folder an earlier run left
// measures the store that folder's deployment uses, or says why it cannot.
func TestReuseNeedsItsStore(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"ledger.key":   "not read here\n",
		"dissent.toml": "# Written by dissent bench.\n[store]\ndriver = \"postgres\"\nurl = \"postgres://postgres@127.0.0.1:5432/kept\"\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, _, _, err := dataFolder(&Options{Data: dir, Store: "sqlite"})
	if err == nil || !strings.Contains(err.Error(), "holds a postgres deployment") || !strings.Contains(err.Error(), "--store postgres") {
		t.Errorf("a PostgreSQL folder run as sqlite: %v, want an error naming the store it holds", err)
	}
	got, fresh, _, err := dataFolder(&Options{Data: dir, Store: "postgres"})
	if err != nil || fresh || got != dir {
		t.Errorf("a PostgreSQL folder run as postgres: %q, fresh %v, %v; want it reused", got, fresh, err)
	}
	lite := t.TempDir()
	if err := os.WriteFile(filepath.Join(lite, "ledger.key"), []byte("not read here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lite, "dissent.toml"), []byte("# Written by dissent bench.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := dataFolder(&Options{Data: lite, Store: "postgres"}); err == nil || !strings.Contains(err.Error(), "holds a sqlite deployment") {
		t.Errorf("an SQLite folder run as postgres: %v, want an error naming the store it holds", err)
	}
	if got, fresh, _, err := dataFolder(&Options{Data: lite, Store: "sqlite"}); err != nil || fresh || got != lite {
		t.Errorf("an SQLite folder run as sqlite: %q, fresh %v, %v; want it reused", got, fresh, err)
	}
	// Without --pg-url, a named folder may be one to reuse: not refused
	// before the folder is looked at.
	o := Options{Exe: "dissent", Store: "postgres", Data: dir, Clients: 1, Duration: time.Second, Pool: 1, CablePool: 1}
	if err := o.check(); err != nil {
		t.Errorf("--store postgres --data DIR without --pg-url refused: %v", err)
	}
}

// TestRunDatabaseIsDroppable creates a run's PostgreSQL database, checks a
// deployment can reach it by the URL given, and that the statement printed
// for a kept one removes it.
func TestRunDatabaseIsDroppable(t *testing.T) {
	base, _ := storetest.PostgresAdmin(t)
	u, dropSQL, drop, err := postgresDatabase(t.Context(), base)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dropSQL, "DROP ") {
		t.Errorf("drop statement %q", dropSQL)
	}
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), `CREATE TABLE kept (x int)`); err != nil {
		t.Fatalf("the run's database at %s: %v", u, err)
	}
	db.Close()
	if err := drop(); err != nil {
		t.Fatalf("drop: %v", err)
	}
	if err := drop(); err == nil {
		t.Error("dropped twice without an error: the first drop removed nothing")
	}
}

// TestParseProcStat: steal is counted apart from busy time, idle and
// iowait in neither, and a line that is not the cpu line is refused.
func TestParseProcStat(t *testing.T) {
	const stat = "cpu  100 2 30 5000 40 5 6 70 0 0\ncpu0 50 1 15 2500 20 2 3 35 0 0\n"
	busy, steal, err := parseProcStat([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	if busy != 100+2+30+5+6 || steal != 70 {
		t.Errorf("busy %d, steal %d ticks; want 143, 70", busy, steal)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7 8\n", "cpu 1 2 3 4 5 6 7\n", "cpu 1 2 x 4 5 6 7 8\n", "cpu 1 2 3 4 5 6 7 -8\n",
		"cpu 576460752303423488 2 3 4 5 6 7 8\n"} {
		if _, _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParseProcStat(f *testing.F) {
	f.Add([]byte("cpu  100 2 30 5000 40 5 6 70 0 0\n"))
	f.Add([]byte("cpu 1 2 3 4 5 6 7 8"))
	f.Fuzz(func(t *testing.T, b []byte) {
		busy, steal, err := parseProcStat(b)
		if err == nil && (busy < 0 || steal < 0) {
			t.Errorf("%q: busy %d, steal %d", b, busy, steal)
		}
	})
}

// TestReportFlagsANoisyMachine: a workload during which other processes or
// the hypervisor took a tenth of a core or more says its figures are low;
// a quiet one does not.
func TestReportFlagsANoisyMachine(t *testing.T) {
	res := &Results{Workloads: []Result{
		{Name: "submit-small", OtherCores: 0.02, StolenCores: 0.01},
		{Name: "read", OtherCores: 0.05, StolenCores: 0.25},
	}}
	var out strings.Builder
	res.print(&out)
	report := out.String()
	if n := strings.Count(report, "these figures are low"); n != 1 {
		t.Fatalf("%d workloads flagged, want 1:\n%s", n, report)
	}
	if !strings.Contains(report, "read: ratio") || !strings.Contains(report[strings.Index(report, "read: ratio"):], "0.30 cores meanwhile (0.25 of them stolen") {
		t.Errorf("the read workload is not the one flagged, or not with its cores:\n%s", report)
	}
}

// TestFixedRate: at a fixed rate a slow server shows in the latency of the
// operations that waited behind a slow answer, and the operations no
// client was free to send are counted, not forgotten.
func TestFixedRate(t *testing.T) {
	r := &runner{opt: &Options{Rate: 200}, srv: &server{}, out: &progress{w: io.Discard}}
	const slow = 30 * time.Millisecond
	res := r.measure(context.Background(), Read, 1, 300*time.Millisecond, 1<<40, func(ctx context.Context, _ int, _ int64) error {
		time.Sleep(slow)
		return nil
	})
	// 60 operations fall due in 300 ms at 200/s; one client answered
	// every 30 ms sends about 10 of them.
	if res.Offered != 200 || res.Ops == 0 || res.Ops >= 60 || res.Ops+res.Unsent != 60 {
		t.Fatalf("offered %v, %d ops sent, %d unsent; want 200, 60 in all, most unsent", res.Offered, res.Ops, res.Unsent)
	}
	// The tenth falls due at 45 ms and is answered at 300 ms at the
	// earliest: a closed loop would have said 30 ms.
	if res.Max < 5*ms(slow) {
		t.Errorf("the slowest latency is %.1f ms, as if no operation had waited behind another", res.Max)
	}

	// A server that keeps up is offered the rate and sends nothing late.
	fast := r.measure(context.Background(), Read, 4, 200*time.Millisecond, 1<<40, func(ctx context.Context, _ int, _ int64) error { return nil })
	if fast.Ops == 0 || fast.Ops+fast.Unsent != 40 {
		t.Errorf("%d ops and %d unsent at 200/s for 200 ms; want 40 in all", fast.Ops, fast.Unsent)
	}

	// Without a rate, nothing is offered or unsent.
	r.opt.Rate = 0
	closed := r.measure(context.Background(), Read, 2, 50*time.Millisecond, 1<<40, func(ctx context.Context, _ int, _ int64) error { return nil })
	if closed.Offered != 0 || closed.Unsent != 0 || closed.Ops == 0 {
		t.Errorf("closed loop: offered %v, unsent %d, %d ops", closed.Offered, closed.Unsent, closed.Ops)
	}
}

// TestFixedRateJudgesLatencyOnly: a run at a fixed rate is not judged on
// throughput, which is the rate it was offered, and says so.
func TestFixedRateJudgesLatencyOnly(t *testing.T) {
	l := Limits{CPUs: 2, X25519PerSec: 30000, Ed25519VerifyPerSec: 20000, Ed25519SignPerSec: 50000, FsyncPerSec: 5000, Argon2idPerSec: 400}
	for name, want := range map[string][]string{
		Read:        {"p99 < 10 ms"},
		SubmitSmall: nil,
		SubmitCable: {"CPU per submit"},
		Login:       {"simultaneous logins"},
		Inbox:       {"p99 < 20 ms"},
	} {
		res := Result{Name: name, Clients: 50, Ops: 100, PerSec: 100, P99: 5, CPUPerOp: 1, PeakRSS: 1 << 20, Offered: 100, Unsent: 3}
		judge(&res, l)
		if len(res.Targets) != len(want) {
			t.Errorf("%s at a fixed rate: judged %v, want only %v", name, res.Targets, want)
			continue
		}
		for i, w := range want {
			if !strings.Contains(res.Targets[i].What, w) {
				t.Errorf("%s at a fixed rate: judged %q, want %q", name, res.Targets[i].What, w)
			}
		}
	}
	closed := Result{Name: Read, Clients: 50, Ops: 100, PerSec: 100, P99: 5}
	if judge(&closed, l); len(closed.Targets) != 2 || !strings.Contains(closed.Targets[1].What, "reads/s") {
		t.Errorf("a closed loop's reads are judged on %v, want latency and reads/s", closed.Targets)
	}
	res := &Results{Workloads: []Result{{Name: Read, Offered: 100, Unsent: 3}}}
	var out strings.Builder
	res.print(&out)
	if !strings.Contains(out.String(), "offered 100/s on a fixed schedule") || !strings.Contains(out.String(), "3 fell due with no client free") {
		t.Errorf("the report does not say the rate or what went unsent:\n%s", out.String())
	}
}

// testMetricsToken is testServer's server.metrics_token.
const testMetricsToken = "the-bench-test-metrics-token"
