package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Result is one workload's figures. Times are in milliseconds.
type Result struct {
	Name         string           `json:"name"`
	Clients      int              `json:"clients"`
	Ops          int64            `json:"ops"` // successful operations
	Errors       int64            `json:"errors"`
	ErrorKinds   map[string]int64 `json:"error_kinds,omitempty"` // by HTTP status, "timeout" or "transport"
	ErrorSamples []string         `json:"error_samples,omitempty"`
	Seconds      float64          `json:"seconds"`
	PerSec       float64          `json:"per_sec"`
	P50          float64          `json:"p50_ms"`
	P95          float64          `json:"p95_ms"`
	P99          float64          `json:"p99_ms"`
	Max          float64          `json:"max_ms"`
	PeakRSS      int64            `json:"peak_rss_bytes,omitempty"`
	ServerCPU    float64          `json:"server_cpu_seconds,omitempty"`
	CPUPerOp     float64          `json:"server_cpu_per_op_ms,omitempty"`
	// BenchCores and OtherCores are the cores the load generator itself,
	// and every other process on the machine, kept busy on average;
	// StolenCores is the steal time, in cores: this machine's CPUs ready
	// to run while the hypervisor ran other guests.
	BenchCores  float64 `json:"bench_cores"`
	OtherCores  float64 `json:"other_cores"`
	StolenCores float64 `json:"stolen_cores"`
	// DBCores and DBCPUPerOp are the PostgreSQL server's processes' share
	// (with --store postgres; other users of that server count too).
	DBCores    float64 `json:"db_cores,omitempty"`
	DBCPUPerOp float64 `json:"db_cpu_per_op_ms,omitempty"`
	// CommitsPerSync is how many commits the store grouped into one
	// durable write, when the server exports its counters.
	CommitsPerSync float64 `json:"commits_per_sync,omitempty"`
	// Offered is the fixed rate operations were due at (Options.Rate), 0
	// when each client sent its next as soon as its last was answered;
	// Unsent counts the operations that fell due before the end but that
	// no client was free to send.
	Offered float64 `json:"offered_per_sec,omitempty"`
	Unsent  int64   `json:"unsent,omitempty"`
	// Limit names the machine limit Ratio is a fraction of.
	Limit   string   `json:"limit,omitempty"`
	LimitAt float64  `json:"limit_value,omitempty"`
	Ratio   float64  `json:"ratio,omitempty"`
	Targets []Target `json:"targets,omitempty"`
	Note    string   `json:"note,omitempty"`
}

// Target is one line of BENCHMARKS.md's targets, checked.
type Target struct {
	What string `json:"what"`
	Met  bool   `json:"met"`

	throughput bool // judges operations a second, which a fixed rate does not measure
}

// Startup is the time from process start to /readyz 200 on an existing data
// folder, over several starts.
type Startup struct {
	Runs     int     `json:"runs"`
	MinMS    float64 `json:"min_ms"`
	MedMS    float64 `json:"median_ms"`
	MaxMS    float64 `json:"max_ms"`
	ReadyRSS int64   `json:"rss_at_ready_bytes"`
	IdleRSS  int64   `json:"rss_idle_bytes"` // a second after ready
	Target   Target  `json:"target"`
}

// Results are a whole run, as --json writes them.
type Results struct {
	Date      time.Time `json:"date"`
	Command   string    `json:"command"`
	GoVersion string    `json:"go_version"`
	Store     string    `json:"store"`
	Argon2id  string    `json:"argon2id"`
	FastArgon bool      `json:"fast_argon,omitempty"`
	URL       string    `json:"url"`
	ServerPID int       `json:"server_pid,omitempty"`
	// IdleRSS is the server's memory a second after it became ready.
	IdleRSS   int64    `json:"idle_rss_bytes,omitempty"`
	Limits    Limits   `json:"limits"`
	Seed      *Result  `json:"seed,omitempty"`
	Workloads []Result `json:"workloads"`
	Startup   *Startup `json:"startup,omitempty"`
	Memory    []Target `json:"memory,omitempty"`
}

// judge fills in a result's limit, ratio and targets (BENCHMARKS.md).
func judge(res *Result, l Limits) {
	defer res.dropThroughput()
	cpus := float64(max(l.CPUs, 1))
	switch res.Name {
	case SubmitSmall:
		grouped := max(res.CommitsPerSync, 1)
		res.Limit = fmt.Sprintf("fsync/s × commits per fsync (%.0f × %.2f)", l.FsyncPerSec, grouped)
		res.LimitAt = l.FsyncPerSec * grouped
		res.Targets = []Target{
			{fmt.Sprintf("≥ 1,000/s at 32 clients (%.0f/s at %d)", res.PerSec, res.Clients), res.PerSec >= 1000 && res.Clients >= 32, true},
			{fmt.Sprintf("≥ 50%% of fsync/s × commits per fsync (%.1f%%)", 100*res.PerSec/res.LimitAt), res.PerSec >= 0.5*res.LimitAt, true},
		}
	case SubmitCable:
		// Two X25519 operations per age wrap (the office and six
		// principals), a verification per signature, and the signature of
		// the receipt's checkpoint.
		floor := 14/l.X25519PerSec + float64(cableAuthors)/l.Ed25519VerifyPerSec + 1/l.Ed25519SignPerSec
		res.Limit = fmt.Sprintf("its crypto alone: 14 X25519 + 51 Ed25519 verify + 1 sign = %.2f ms CPU", floor*1000)
		res.LimitAt = floor * 1000
		if res.CPUPerOp > 0 {
			res.Ratio = res.CPUPerOp / res.LimitAt
		}
		res.Targets = []Target{
			{fmt.Sprintf("≥ 150/s (%.0f/s)", res.PerSec), res.PerSec >= 150, true},
			{fmt.Sprintf("CPU per submit ≤ 1.5× its crypto (%.2f×)", res.Ratio), res.Ratio > 0 && res.Ratio <= 1.5, false},
		}
		return
	case Read:
		res.Limit = fmt.Sprintf("X25519/s × %d cores (one unwrap per read)", l.CPUs)
		res.LimitAt = l.X25519PerSec * cpus
		res.Targets = []Target{
			{fmt.Sprintf("p99 < 10 ms at 50 clients (%.1f ms at %d)", res.P99, res.Clients), res.P99 < 10 && res.Clients >= 50, false},
			{fmt.Sprintf("≥ 3,000 reads/s (%.0f/s)", res.PerSec), res.PerSec >= 3000, true},
		}
	case Inbox:
		res.Limit = fmt.Sprintf("X25519/s × %d cores ÷ 51 (an unwrap per listed memo and the office key)", l.CPUs)
		res.LimitAt = l.X25519PerSec * cpus / 51
		res.Targets = []Target{{fmt.Sprintf("p99 < 20 ms (%.1f ms)", res.P99), res.P99 > 0 && res.P99 < 20, false}}
	case Login:
		res.Limit = fmt.Sprintf("argon2id/s × %d cores", l.CPUs)
		res.LimitAt = l.Argon2idPerSec * cpus
		res.Targets = []Target{
			{fmt.Sprintf("≥ 20/s (%.1f/s)", res.PerSec), res.PerSec >= 20, true},
			{fmt.Sprintf("%d simultaneous logins ≤ 512 MiB RSS (peak %s)", res.Clients, mib(res.PeakRSS)), res.PeakRSS > 0 && res.PeakRSS <= 512<<20 && res.Clients >= 200, false},
		}
	}
	if res.LimitAt > 0 {
		res.Ratio = res.PerSec / res.LimitAt
	}
}

// dropThroughput leaves out the targets a run at a fixed rate cannot judge:
// its operations a second are the rate offered, or what the server kept up
// with of it.
func (res *Result) dropThroughput() {
	if res.Offered > 0 {
		res.Targets = slices.DeleteFunc(res.Targets, func(t Target) bool { return t.throughput })
	}
}

func mib(b int64) string {
	if b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

func yes(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// print writes the results as tables.
func (res *Results) print(w io.Writer) {
	fmt.Fprintf(w, "\ndissent bench, %s\n", res.Date.Format(time.RFC3339))
	fmt.Fprintf(w, "machine: %d CPUs, %s; store %s; argon2id %s\n", res.Limits.CPUs, res.GoVersion, res.Store, res.Argon2id)
	if res.FastArgon {
		fmt.Fprintln(w, "NOTE: --fast-argon: users' passwords use weak argon2id parameters; the login figure is not the product's.")
	}
	l := res.Limits
	fmt.Fprintf(w, "limits (measured now): fsync %.0f/s in %s; per core: X25519 %.0f/s, Ed25519 sign %.0f/s, verify %.0f/s, argon2id %.1f/s\n",
		l.FsyncPerSec, l.FsyncDir, l.X25519PerSec, l.Ed25519SignPerSec, l.Ed25519VerifyPerSec, l.Argon2idPerSec)
	if res.Seed != nil {
		fmt.Fprintf(w, "seeded %d memos in %.0f s (%.0f/s)\n", res.Seed.Ops, res.Seed.Seconds, res.Seed.PerSec)
	}
	fmt.Fprintln(w, "(other cores: CPU that processes other than the server, its database and the load generator used meanwhile;")
	fmt.Fprintln(w, " stolen: time this machine's CPUs were ready to run but the hypervisor ran other guests; figures taken under it are low)")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tclients\tops\tops/s\tp50 ms\tp95 ms\tp99 ms\terrors\tpeak RSS\tCPU/op ms\tratio\tbench cores\tother cores\tstolen\t")
	for _, r := range res.Workloads {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%d\t%s\t%.2f\t%.3f\t%.2f\t%.2f\t%.2f\t\n", r.Name, r.Clients, r.Ops, r.PerSec, r.P50, r.P95, r.P99, r.Errors, mib(r.PeakRSS), r.CPUPerOp, r.Ratio, r.BenchCores, r.OtherCores, r.StolenCores)
	}
	_ = tw.Flush()
	for _, r := range res.Workloads {
		if r.DBCores > 0 {
			fmt.Fprintf(w, "%s: PostgreSQL's processes used %.2f cores, %.2f ms CPU per operation\n", r.Name, r.DBCores, r.DBCPUPerOp)
		}
	}
	for _, r := range res.Workloads {
		fmt.Fprintf(w, "%s: ratio is to %s = %.1f\n", r.Name, r.Limit, r.LimitAt)
		for _, t := range r.Targets {
			fmt.Fprintf(w, "  %-6s %s\n", yes(t.Met), t.What)
		}
		if r.Errors > 0 {
			fmt.Fprintf(w, "  errors by kind: %v; e.g. %s\n", r.ErrorKinds, strings.Join(r.ErrorSamples, " | "))
		}
		if r.CommitsPerSync > 0 {
			fmt.Fprintf(w, "  the store grouped %.2f commits per fsync\n", r.CommitsPerSync)
		}
		if r.Offered > 0 {
			fmt.Fprintf(w, "  offered %.0f/s on a fixed schedule (latency counts from when each was due; throughput targets not judged)", r.Offered)
			if r.Unsent > 0 {
				fmt.Fprintf(w, ": %d fell due with no client free to send them (the server did not keep up, or --clients is too few)", r.Unsent)
			}
			fmt.Fprintln(w)
		}
		if r.Note != "" {
			fmt.Fprintf(w, "  note: %s\n", r.Note)
		}
		if busy := r.OtherCores + r.StolenCores; busy >= noisyCores {
			fmt.Fprintf(w, "  note: other work took %.2f cores meanwhile (%.2f of them stolen by the hypervisor): these figures are low; run again\n", busy, r.StolenCores)
		}
	}
	for _, t := range res.Memory {
		fmt.Fprintf(w, "memory: %-6s %s\n", yes(t.Met), t.What)
	}
	if s := res.Startup; s != nil {
		fmt.Fprintf(w, "start-up: %d starts, min %.0f ms, median %.0f ms, max %.0f ms; RSS %s at ready, %s idle\n", s.Runs, s.MinMS, s.MedMS, s.MaxMS, mib(s.ReadyRSS), mib(s.IdleRSS))
		fmt.Fprintf(w, "  %-6s %s\n", yes(s.Target.Met), s.Target.What)
	}
}

// noisyCores is how much of the machine other work may take during a
// workload before its figures are flagged as low: a tenth of a core.
const noisyCores = 0.1

// compare prints each workload's throughput and p99 as a ratio to a
// baseline run's (e.g. PostgreSQL against SQLite).
func (res *Results) compare(w io.Writer, base *Results) {
	fmt.Fprintf(w, "\nagainst the baseline of %s (store %s):\n", base.Date.Format(time.RFC3339), base.Store)
	for _, r := range res.Workloads {
		i := slices.IndexFunc(base.Workloads, func(b Result) bool { return b.Name == r.Name })
		if i < 0 || base.Workloads[i].PerSec == 0 {
			continue
		}
		b := base.Workloads[i]
		within := r.PerSec*2 >= b.PerSec && (b.P99 == 0 || r.P99 <= 2*b.P99)
		fmt.Fprintf(w, "  %-12s throughput %.2f× (%.1f vs %.1f/s), p99 %.2f× (%.2f vs %.2f ms): %s\n", r.Name, r.PerSec/b.PerSec, r.PerSec, b.PerSec,
			r.P99/max(b.P99, 1e-9), r.P99, b.P99, map[bool]string{true: "within 2×", false: "NOT within 2×"}[within])
	}
}

func readResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("bench: %s: %w", path, err)
	}
	return &r, nil
}

func (res *Results) write(path string) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// progress prints status and progress lines: on a terminal one line that
// updates every second, elsewhere a line every five seconds.
type progress struct {
	w    io.Writer
	tty  bool
	mu   sync.Mutex
	open bool // a progress line is on screen without its newline
}

func (p *progress) status(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endLine()
	fmt.Fprintf(p.w, "• "+format+"\n", args...)
}

func (p *progress) endLine() {
	if p.open {
		fmt.Fprintln(p.w)
		p.open = false
	}
}

// ticker prints line() periodically until the returned stop is called,
// which prints it a last time.
func (p *progress) ticker(line func() string) (stop func()) {
	every := 5 * time.Second
	if p.tty {
		every = time.Second
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	show := func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.tty {
			fmt.Fprintf(p.w, "\r\033[K%s", line())
			p.open = true
		} else {
			fmt.Fprintln(p.w, line())
		}
	}
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				show()
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		show()
		p.mu.Lock()
		p.endLine()
		p.mu.Unlock()
	}
}
