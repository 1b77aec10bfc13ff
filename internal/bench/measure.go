package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/sys/unix"

	"github.com/dissent-channel/dissent/internal/vault"
)

// maxSamples bounds the latencies one workload keeps (16 MiB of them);
// operations beyond it still count, their latencies are not kept.
const maxSamples = 2_000_000

// recorder collects the outcome of one workload's operations. It is safe
// for concurrent use.
type recorder struct {
	ok, failed atomic.Int64

	mu      sync.Mutex
	lat     []time.Duration
	kinds   map[string]int64
	samples []string // the first few error messages, to show
}

func newRecorder() *recorder { return &recorder{kinds: map[string]int64{}} }

// add records one operation that took d and ended with err.
func (r *recorder) add(d time.Duration, err error) {
	if err == nil {
		r.ok.Add(1)
	} else {
		r.failed.Add(1)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		if len(r.lat) < maxSamples {
			r.lat = append(r.lat, d)
		}
		return
	}
	r.kinds[errorKind(err)]++
	if len(r.samples) < 3 {
		r.samples = append(r.samples, err.Error())
	}
}

// latencies returns the successful operations' latencies, sorted.
func (r *recorder) latencies() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.lat)
	slices.Sort(out)
	return out
}

// errorKind names an error by HTTP status, or by what went wrong before one.
func errorKind(err error) string {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return strconv.Itoa(ae.Status)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	default:
		return "transport"
	}
}

// percentile returns the p-th percentile (0 < p <= 100) of sorted latencies
// by the nearest-rank method, or 0 when there are none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// process reads a server process's memory and CPU from /proc.
type process struct{ pid int }

// memory returns the resident set size and its peak (VmRSS, VmHWM) in bytes.
func (p process) memory() (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		return 0, 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		kib, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss = kib << 10
		case "VmHWM:":
			peak = kib << 10
		}
	}
	return rss, peak, nil
}

// resetPeak resets VmHWM to the current RSS (Linux 4.0 and later), so that
// each workload's peak is its own.
func (p process) resetPeak() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.pid), []byte("5"), 0)
}

// clockTick is the unit of /proc/PID/stat's CPU times (USER_HZ, 100 on
// every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// cpu returns the CPU time (user and system) the process has used.
func (p process) cpu() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields start after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("bench: malformed /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("bench: malformed /proc stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// machineCPU returns, in clock ticks since boot, the CPU time all
// processes on the machine have used and the steal time (this machine's
// CPUs ready to run while the hypervisor ran other guests), from
// /proc/stat. Ticks, not durations: only differences are converted, so a
// long uptime of many cores cannot overflow.
func machineCPU() (busy, steal int64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	return parseProcStat(b)
}

// parseProcStat reads the cpu line of /proc/stat: busy is user, nice,
// system, irq and softirq (all but idle, iowait and steal), in clock ticks.
func parseProcStat(b []byte) (busy, steal int64, err error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, errors.New("bench: malformed /proc/stat")
	}
	var ticks [9]int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil || n < 0 || n >= 1<<59 { // five of them still sum within int64
			return 0, 0, errors.New("bench: malformed /proc/stat")
		}
		ticks[i] = n
	}
	return ticks[1] + ticks[2] + ticks[3] + ticks[6] + ticks[7], ticks[8], nil
}

// cpuMeter measures, over an interval, the CPU used by the server, by the
// database server's processes (PostgreSQL), by this process (the load
// generator), by everything else on the machine, and the steal time (the
// hypervisor running other guests): the last two are other people's work,
// which the figures should be read against.
type cpuMeter struct {
	server              process
	db                  string // the database server's command name, or ""
	at                  time.Time
	total, steal        int64 // ticks (machineCPU)
	server0, db0, self0 time.Duration
}

func startCPU(server process, db string) *cpuMeter {
	m := &cpuMeter{server: server, db: db, at: time.Now()}
	m.total, m.steal, _ = machineCPU()
	if server.pid != 0 {
		m.server0, _ = server.cpu()
	}
	m.db0 = commandCPU(db)
	m.self0, _ = process{os.Getpid()}.cpu()
	return m
}

// cpuUse is what a cpuMeter measured.
type cpuUse struct {
	server, db                    time.Duration // CPU time
	self, dbCores, others, stolen float64       // average cores busy (stolen: taken by the hypervisor)
}

func (m *cpuMeter) stop() cpuUse {
	var u cpuUse
	wall := time.Since(m.at).Seconds()
	total, steal, err1 := machineCPU()
	me, err2 := process{os.Getpid()}.cpu()
	if m.server.pid != 0 {
		if s, err := m.server.cpu(); err == nil {
			u.server = s - m.server0
		}
	}
	u.db = max(0, commandCPU(m.db)-m.db0)
	if err1 != nil || err2 != nil || wall <= 0 {
		return u
	}
	u.self = (me - m.self0).Seconds() / wall
	u.dbCores = u.db.Seconds() / wall
	busy := time.Duration(total-m.total) * clockTick
	u.others = max(0, (busy-(me-m.self0)-u.server-u.db).Seconds()/wall)
	u.stolen = max(0, (time.Duration(steal-m.steal)*clockTick).Seconds()/wall)
	return u
}

// commandCPU sums the CPU time of every process named name (at most a
// few thousand are looked at); it is 0 for "". Processes that ended in
// between are missed, so it is a lower bound.
func commandCPU(name string) time.Duration {
	if name == "" {
		return 0
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var sum time.Duration
	for i, e := range ents {
		if i >= 10000 {
			break
		}
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil || strings.TrimSpace(string(b)) != name {
			continue
		}
		if c, err := (process{pid}).cpu(); err == nil {
			sum += c
		}
	}
	return sum
}

// Limits are what this machine can do at most, measured in the same run:
// the figures are reported as ratios to them.
type Limits struct {
	CPUs int `json:"cpus"`
	// FsyncPerSec is how many write+fsync cycles of a small file the data
	// folder's disk completes per second.
	FsyncPerSec float64 `json:"fsync_per_sec"`
	FsyncDir    string  `json:"fsync_dir"`
	// Operations per second of one core.
	X25519PerSec        float64 `json:"x25519_per_sec"`
	Ed25519SignPerSec   float64 `json:"ed25519_sign_per_sec"`
	Ed25519VerifyPerSec float64 `json:"ed25519_verify_per_sec"`
	// Argon2idPerSec is one core's password derivations with the
	// deployment's parameters.
	Argon2idPerSec float64 `json:"argon2id_per_sec"`
}

// measureLimits measures the machine. Each loop runs about for's length,
// and at most a fixed number of times.
func measureLimits(ctx context.Context, dir string, argon vault.PasswordParams) (Limits, error) {
	l := Limits{CPUs: runtime.NumCPU(), FsyncDir: dir}
	var err error
	if l.FsyncPerSec, err = fsyncRate(ctx, dir, time.Second); err != nil {
		return l, err
	}
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return l, err
	}
	peer := k.PublicKey()
	l.X25519PerSec = rate(ctx, 300*time.Millisecond, 1_000_000, func() { _, _ = k.ECDH(peer) })
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return l, err
	}
	msg := make([]byte, 200)
	sig := ed25519.Sign(priv, msg)
	pub := priv.Public().(ed25519.PublicKey)
	l.Ed25519SignPerSec = rate(ctx, 300*time.Millisecond, 1_000_000, func() { ed25519.Sign(priv, msg) })
	l.Ed25519VerifyPerSec = rate(ctx, 300*time.Millisecond, 1_000_000, func() { ed25519.Verify(pub, msg, sig) })
	salt := make([]byte, 16)
	l.Argon2idPerSec = rate(ctx, 500*time.Millisecond, 1000, func() {
		argon2.IDKey([]byte("correct horse battery staple"), salt, argon.Time, argon.MemoryKiB, argon.Threads, 64)
	})
	return l, ctx.Err()
}

// rate runs f for about d (at least once, at most n times) and returns its
// calls per second of CPU time of the thread running it: other work on the
// machine takes wall time from it, but hardly CPU time.
func rate(ctx context.Context, d time.Duration, n int, f func()) float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start, cpu0 := time.Now(), threadCPU()
	i := 0
	for i < n && (i == 0 || time.Since(start) < d) && ctx.Err() == nil {
		f()
		i++
	}
	cpu := threadCPU() - cpu0
	if cpu <= 0 {
		cpu = time.Since(start)
	}
	return float64(i) / cpu.Seconds()
}

// threadCPU returns the CPU time of the calling thread.
func threadCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fsyncRate writes and fsyncs a small file in dir for about d.
func fsyncRate(ctx context.Context, dir string, d time.Duration) (float64, error) {
	return fsyncRateBy(ctx, dir, d, time.Now)
}

// fsyncRateBy is fsyncRate reading the time from now (a test's clock).
func fsyncRateBy(ctx context.Context, dir string, d time.Duration, now func() time.Time) (float64, error) {
	f, err := os.CreateTemp(dir, ".bench-fsync-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 512)
	start := now()
	n := 0
	for n < 1_000_000 && now().Sub(start) < d && ctx.Err() == nil {
		buf[0] = byte(n)
		if _, err := f.WriteAt(buf, 0); err != nil {
			return 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n) / now().Sub(start).Seconds(), nil
}

// dirOf returns the folder whose disk a data path lives on.
func dirOf(path string) string {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return path
	}
	return filepath.Dir(path)
}
