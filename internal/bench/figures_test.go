package bench

// A review (helper-42) found: the figures `dissent bench` reports. The earlier tests check
// that every workload runs and that the report names its limits, but no
// ratio's value, no percentile of a run, no progress line and no --json
// file: inverting a ratio, reporting p95 as p99, silencing the progress
// line or never writing the JSON file all passed them.

import (
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/service/servicetest"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// TestJudgeComputesEachRatio checks every workload's limit and ratio
// against figures worked out by hand from the definitions in
// BENCHMARKS.md.
func TestJudgeComputesEachRatio(t *testing.T) {
	l := Limits{CPUs: 2, FsyncPerSec: 200, X25519PerSec: 30000, Ed25519SignPerSec: 50000, Ed25519VerifyPerSec: 20000, Argon2idPerSec: 10}
	cases := []struct {
		res            Result
		limitAt, ratio float64
		met            []bool
	}{
		// fsync/s × commits per fsync = 200 × 4 = 800; 500/800.
		{Result{Name: SubmitSmall, Clients: 32, PerSec: 500, CommitsPerSync: 4}, 800, 0.625, []bool{false, true}},
		// Without group commit counters, one commit per fsync: 200; 150/200.
		{Result{Name: SubmitSmall, Clients: 32, PerSec: 150}, 200, 0.75, []bool{false, true}},
		{Result{Name: SubmitSmall, Clients: 32, PerSec: 90, CommitsPerSync: 1}, 200, 0.45, []bool{false, false}},
		// X25519/s × cores = 60,000; 3,000/60,000.
		{Result{Name: Read, Clients: 50, PerSec: 3000, P99: 5}, 60000, 0.05, []bool{true, true}},
		// X25519/s × cores ÷ 51.
		{Result{Name: Inbox, Clients: 4, PerSec: 100, P99: 25}, 60000.0 / 51, 100 / (60000.0 / 51), []bool{false}},
		// argon2id/s × cores = 20; 10/20.
		{Result{Name: Login, Clients: 200, PerSec: 10, PeakRSS: 100 << 20}, 20, 0.5, []bool{false, true}},
	}
	for _, c := range cases {
		res := c.res
		judge(&res, l)
		if !near(res.LimitAt, c.limitAt) || !near(res.Ratio, c.ratio) {
			t.Errorf("%s at %.0f/s: limit %v, ratio %v; want %v and %v", res.Name, res.PerSec, res.LimitAt, res.Ratio, c.limitAt, c.ratio)
		}
		if len(res.Targets) != len(c.met) {
			t.Errorf("%s: targets %+v, want %d", res.Name, res.Targets, len(c.met))
			continue
		}
		for i, m := range c.met {
			if res.Targets[i].Met != m {
				t.Errorf("%s at %.0f/s: target %q met=%v, want %v", res.Name, res.PerSec, res.Targets[i].What, res.Targets[i].Met, m)
			}
		}
	}
	// The cable's floor: 14 X25519 + 51 verifications + 1 signature, in ms
	// of CPU; the ratio is the server's CPU per submit to it.
	floor := 1000 * (14/l.X25519PerSec + 51/l.Ed25519VerifyPerSec + 1/l.Ed25519SignPerSec)
	res := Result{Name: SubmitCable, Clients: 8, PerSec: 200, CPUPerOp: 1.2 * floor}
	judge(&res, l)
	if !near(res.LimitAt, floor) || !near(res.Ratio, 1.2) {
		t.Errorf("submit-cable: limit %v ms, ratio %v; want %v ms and 1.2", res.LimitAt, res.Ratio, floor)
	}
	if len(res.Targets) != 2 || !res.Targets[0].Met || !res.Targets[1].Met {
		t.Errorf("submit-cable at 200/s and 1.2× its crypto: targets %+v, want both met", res.Targets)
	}
}

// TestMeasureReportsItsPercentiles runs 100 operations of which the
// last 3 take at least 200 ms and one other fails: p50 and p95 are of the
// quick ones, p99 and the maximum of the slow ones, the failure is an
// error and not an operation, and a progress line was written.
func TestMeasureReportsItsPercentiles(t *testing.T) {
	var progressOut strings.Builder
	r := &runner{opt: &Options{}, srv: &server{}, out: &progress{w: &progressOut}}
	const slow = 200 * time.Millisecond
	res := r.measure(context.Background(), Read, 1, time.Minute, 101, func(ctx context.Context, _ int, i int64) error {
		switch {
		case i == 50:
			return errors.New("refused")
		case i >= 98:
			time.Sleep(slow)
		}
		return nil
	})
	if res.Ops != 100 || res.Errors != 1 {
		t.Fatalf("%d ops, %d errors; want 100 and 1", res.Ops, res.Errors)
	}
	if res.P99 < ms(slow) || res.Max < ms(slow) {
		t.Errorf("p99 %.1f ms, max %.1f ms: the 3 slowest of 100 take %v or more, so p99 must be one of them", res.P99, res.Max, slow)
	}
	if res.P95 >= ms(slow) || res.P50 >= ms(slow) {
		t.Errorf("p50 %.1f ms, p95 %.1f ms: 97 of 100 operations returned at once", res.P50, res.P95)
	}
	if !strings.Contains(progressOut.String(), "read") || !strings.Contains(progressOut.String(), "100 ok") {
		t.Errorf("no progress line for the workload: %q", progressOut.String())
	}
}

// TestJSONResultFile: --json writes the run's results, which read back
// as the report printed them.
func TestJSONResultFile(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 50-odd users")
	}
	path := filepath.Join(t.TempDir(), "results.json")
	var out strings.Builder
	res, err := Run(context.Background(), Options{
		URL: testServer(t), Admin: "admin", AdminPassword: servicetest.Password("admin"), Store: "sqlite",
		Clients: 2, Duration: 300 * time.Millisecond, Pool: 4, CablePool: 1, Workloads: []string{Inbox}, JSON: path,
	}, &out, io.Discard, false)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("--json %s: %v", path, err)
	}
	got, err := readResults(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Workloads) != 1 || got.Workloads[0].Name != Inbox || got.Workloads[0].Ops != res.Workloads[0].Ops ||
		got.Workloads[0].Ratio != res.Workloads[0].Ratio || got.Limits.X25519PerSec <= 0 || got.Limits.FsyncPerSec <= 0 || got.Store != "sqlite" {
		t.Errorf("the JSON file holds %+v, want the run's %+v", got, res)
	}
	if !strings.Contains(out.String(), "results written to "+path) {
		t.Errorf("the report does not say where the results went:\n%s", out.String())
	}
}

// TestFsyncRateCountsEachSync: on a clock that moves one millisecond each
// time it is read (once a sync, and once at each end), 100 ms of syncs
// are about a thousand a second: the rate is syncs over the time they took.
func TestFsyncRateCountsEachSync(t *testing.T) {
	var ticks int64
	clock := func() time.Time {
		ticks++
		return time.Unix(0, ticks*int64(time.Millisecond))
	}
	rate, err := fsyncRateBy(t.Context(), t.TempDir(), 100*time.Millisecond, clock)
	if err != nil {
		t.Fatal(err)
	}
	if rate < 900 || rate > 1100 {
		t.Errorf("fsync rate %.0f/s on a clock that moves 1 ms a sync, want about 1000/s", rate)
	}
}
