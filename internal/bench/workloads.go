package bench

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The workloads of BENCHMARKS.md.
const (
	SubmitSmall = "submit-small"
	SubmitCable = "submit-cable"
	Read        = "read"
	Inbox       = "inbox"
	Login       = "login"
)

// Workloads are every workload, in the order they run.
var Workloads = []string{SubmitSmall, SubmitCable, Read, Inbox, Login}

// Seeded names the memos --seed submits (one author, 8 KB), as SubmitSmall
// and SubmitCable name theirs, for Options.ReadMemos.
const Seeded = "seed"

// memoTitles begin the titles of the memos each kind submits, by which a
// run tells them apart, its own or an earlier run's on the same folder.
var memoTitles = map[string]string{
	Seeded:      "Seeded memo ",
	SubmitSmall: "Submit-small memo ",
	SubmitCable: "Submit-cable memo ",
}

// memoKind returns the kind of memo a title names, or "".
func memoKind(title string) string {
	for kind, prefix := range memoTitles {
		if strings.HasPrefix(title, prefix) {
			return kind
		}
	}
	return ""
}

// defaultClients are the concurrent clients each workload's target names
// (an office has a handful of people, so its inbox gets four).
var defaultClients = map[string]int{SubmitSmall: 32, SubmitCable: 32, Read: 50, Inbox: 4, Login: 200}

const (
	marking       = "SENSITIVE BUT UNCLASSIFIED"
	principalN    = 6  // the standing distribution of the cable case
	cableAuthors  = 51 // the seed case's signers
	maxTrios      = 32 // author groups of submit-small
	keepIDs       = 10000
	maxSeedTime   = 3 * time.Hour
	maxPrepTime   = 30 * time.Minute
	signInWorkers = 8 // the server derives at most 8 passwords at once by default
	signAttempts  = 10
)

// memoBody returns a body of n bytes of plain prose.
func memoBody(n int) string {
	const para = "We dissent from the current policy, for reasons our posts see every day and set out here. "
	return strings.Repeat(para, n/len(para)+1)[:n]
}

var (
	body8K  = memoBody(8 << 10)
	body12K = memoBody(12 << 10)
)

// account is a signed-in user, and the device token their sign-in gave.
type account struct {
	name, token, device string
}

// population is the deployment's people, made through the API.
type population struct {
	admin, office account
	principals    []account
	members       []account
	signedAt      time.Time
}

// runner runs one bench.
type runner struct {
	opt   *Options
	c     *client
	srv   *server
	pop   population
	out   *progress
	argon string

	mu        sync.Mutex
	submitted []submitted // memos the principals can read, at most keepIDs
}

// submitted is a memo the principals can read, and its kind (memoTitles).
type submitted struct{ id, kind string }

func (r *runner) addSubmitted(id, kind string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.submitted) < keepIDs {
		r.submitted = append(r.submitted, submitted{id, kind})
	}
}

// parallel runs f(i) for i in [0, n) on at most workers goroutines and
// returns the first error; after one, no new calls start.
func parallel(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// populate creates (or finds, in a reused deployment) the office, the
// principals on the standing distribution and n members, and signs them in.
func (r *runner) populate(ctx context.Context, members int) error {
	admin := r.opt.Admin
	if admin == "" {
		admin = adminName
	}
	adminPW := r.opt.AdminPassword
	if adminPW == "" {
		adminPW = password(admin)
	}
	tok, err := r.c.signIn(ctx, admin, adminPW)
	if err != nil {
		return fmt.Errorf("bench: sign in as %s: %w", admin, err)
	}
	r.pop.admin = account{name: admin, token: tok}
	create := func(ctx context.Context, name string, roles []string, eligible bool) error {
		err := r.c.createUser(ctx, tok, newUser{Username: name, DisplayName: "Bench " + name, Email: name + "@bench.invalid",
			Password: password(name), Roles: roles, Eligible: eligible})
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == 422 && strings.Contains(ae.Detail, "taken") {
			return nil // made by an earlier run
		}
		if err != nil {
			return fmt.Errorf("bench: create %s: %w", name, err)
		}
		return nil
	}
	// The office first: the custodians found it with its first member.
	if err := create(ctx, "bench-office", []string{"office"}, false); err != nil {
		return err
	}
	if err := r.foundOffice(ctx, "bench-office"); err != nil {
		return err
	}
	var principals []string
	for i := range principalN {
		principals = append(principals, fmt.Sprintf("bench-p%d", i+1))
	}
	names := make([]string, members)
	for i := range names {
		names[i] = fmt.Sprintf("bench-m%d", i+1)
	}
	all := append(append([]string(nil), principals...), names...)
	r.out.status("creating %d users (argon2id %s)", len(all), r.argon)
	err = parallel(ctx, len(all), signInWorkers, func(ctx context.Context, i int) error {
		if i < len(principals) {
			return create(ctx, all[i], []string{"principal"}, false)
		}
		return create(ctx, all[i], []string{"member"}, true)
	})
	if err != nil {
		return err
	}
	awaiting, err := r.c.setDistribution(ctx, tok, principals)
	if err != nil {
		return fmt.Errorf("bench: set the distribution: %w", err)
	}
	r.pop.office = account{name: "bench-office"}
	r.pop.principals = make([]account, len(principals))
	for i, n := range principals {
		r.pop.principals[i] = account{name: n}
	}
	r.pop.members = make([]account, len(names))
	for i, n := range names {
		r.pop.members[i] = account{name: n}
	}
	if err := r.signInAll(ctx); err != nil {
		return err
	}
	// Memos reach a principal once the office has confirmed their keys.
	for i, p := range r.pop.principals {
		if slices.Contains(awaiting, p.name) {
			if err := r.c.confirmKeys(ctx, r.pop.office.token, p.name, r.pop.principals[i].token); err != nil {
				return fmt.Errorf("bench: the office confirms %s's keys: %w", p.name, err)
			}
		}
	}
	return nil
}

// foundOffice has the custodians found the office with username, who reads
// them the fingerprint on their account, as at the ceremony: `dissent
// office found` with the shares that `dissent init` wrote to the data
// folder. The office of a server given by --url must be founded already.
func (r *runner) foundOffice(ctx context.Context, username string) error {
	tok, err := r.c.signIn(ctx, username, password(username))
	if err != nil {
		return fmt.Errorf("bench: sign in as %s: %w", username, err)
	}
	var me struct {
		Access      string `json:"office_access"`
		Fingerprint string `json:"keys_fingerprint"`
	}
	if err := r.c.do(ctx, "GET", "/api/v1/me", tok, nil, &me); err != nil {
		return err
	}
	if me.Access != "unfounded" {
		return nil
	}
	if r.srv.data == "" {
		return fmt.Errorf("bench: the channel office of %s is not founded: found it with `dissent office found` first", r.srv.url)
	}
	shares, err := filepath.Glob(filepath.Join(r.srv.data, "recovery-shares", "*.txt"))
	if err != nil || len(shares) == 0 {
		return fmt.Errorf("bench: no recovery shares in %s to found the office with", r.srv.data)
	}
	r.out.status("the custodians found the office with %s", username)
	ctx, cancel := context.WithTimeout(ctx, serverTimeout)
	defer cancel()
	args := append([]string{"office", "found", "--data", r.srv.data, "--user", username, "--fingerprint", me.Fingerprint}, shares...)
	cmd := exec.CommandContext(ctx, r.srv.exe, args...)
	cmd.Env = childEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("bench: dissent office found: %w\n%s", err, out)
	}
	return nil
}

// signInAll signs every account in afresh.
func (r *runner) signInAll(ctx context.Context) error {
	accs := []*account{&r.pop.office}
	for i := range r.pop.principals {
		accs = append(accs, &r.pop.principals[i])
	}
	for i := range r.pop.members {
		accs = append(accs, &r.pop.members[i])
	}
	r.out.status("signing in %d users", len(accs))
	err := parallel(ctx, len(accs), signInWorkers, func(ctx context.Context, i int) error {
		tok, device, err := r.c.signInFrom(ctx, accs[i].name, password(accs[i].name), accs[i].device)
		if err != nil {
			return fmt.Errorf("bench: sign in as %s: %w", accs[i].name, err)
		}
		accs[i].token, accs[i].device = tok, device
		return nil
	})
	r.pop.signedAt = time.Now()
	return err
}

// fresh signs everyone in again if the sessions may be near their idle
// time-out (30 minutes by default).
func (r *runner) fresh(ctx context.Context) error {
	if time.Since(r.pop.signedAt) < 15*time.Minute {
		return nil
	}
	return r.signInAll(ctx)
}

// ready is a memo signed by all its authors, ready to submit.
type ready struct {
	id, token string
	revision  int
}

// draft creates a memo by a with co-drafters, invites signers, and has
// every author sign; signers run on up to workers goroutines.
func (r *runner) draft(ctx context.Context, title, body string, authors []account, codrafters, workers int) (ready, error) {
	var names []string
	for _, a := range authors[1:] {
		names = append(names, a.name)
	}
	m, err := r.c.createMemo(ctx, authors[0].token, memoInput{Title: title, Body: body, Marking: marking, Codrafters: names[:codrafters]})
	if err != nil {
		return ready{}, fmt.Errorf("create: %w", err)
	}
	if len(names) > codrafters {
		if err := r.c.invite(ctx, authors[0].token, m.ID, names[codrafters:]); err != nil {
			return ready{}, fmt.Errorf("invite: %w", err)
		}
	}
	err = parallel(ctx, len(authors), workers, func(ctx context.Context, i int) error {
		// Signers who sign one memo at the same moment may be told, after
		// the server's own retries, that it changed meanwhile (PostgreSQL
		// lets writers overlap): a person would sign again, and so does
		// this, a bounded number of times.
		var err error
		for attempt := 1; attempt <= signAttempts; attempt++ {
			err = r.c.sign(ctx, authors[i].token, m.ID, m.Revision)
			var ae *apiError
			if !errors.As(err, &ae) || ae.Status != 409 {
				break
			}
			time.Sleep(time.Duration(attempt) * 20 * time.Millisecond)
		}
		if err != nil {
			return fmt.Errorf("sign as %s: %w", authors[i].name, err)
		}
		return nil
	})
	return ready{id: m.ID, token: authors[0].token, revision: m.Revision}, err
}

// seed submits n single-author 8 KB memos on up to workers authors.
func (r *runner) seed(ctx context.Context, n, workers int) (Result, error) {
	workers = min(workers, len(r.pop.members))
	res := r.measure(ctx, "seed", workers, maxSeedTime, int64(n), func(ctx context.Context, w int, i int64) error {
		a := r.pop.members[w]
		m, err := r.draft(ctx, memoTitles[Seeded]+strconv.FormatInt(i+1, 10), body8K, []account{a}, 0, 1)
		if err != nil {
			return err
		}
		if _, err := r.c.submit(ctx, m.token, m.id, m.revision); err != nil {
			return fmt.Errorf("submit: %w", err)
		}
		r.addSubmitted(m.id, Seeded)
		return nil
	})
	if res.Errors > 0 {
		return res, fmt.Errorf("bench: seeding failed %d times: %s", res.Errors, strings.Join(res.ErrorSamples, "; "))
	}
	return res, ctx.Err()
}

// prepareSmall drafts n 3-author 8 KB memos, signed by all three, on one
// author group per worker.
func (r *runner) prepareSmall(ctx context.Context, n, workers int) ([]ready, error) {
	trios := min(workers, maxTrios, len(r.pop.members)/3)
	pool := make([]ready, n)
	r.out.status("preparing %d submit-small memos (create, 3 signatures each)", n)
	start := time.Now()
	var done atomic.Int64
	stop := r.out.ticker(func() string {
		return fmt.Sprintf("prepare submit-small %d/%d %.0f memos/s", done.Load(), n, float64(done.Load())/time.Since(start).Seconds())
	})
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, maxPrepTime)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, trios)
	for w := range trios {
		wg.Go(func() {
			authors := r.pop.members[3*w : 3*w+3]
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				m, err := r.draft(ctx, memoTitles[SubmitSmall]+strconv.Itoa(i+1), body8K, authors, 2, 1)
				if err != nil {
					errs[w] = fmt.Errorf("bench: prepare submit-small: %w", err)
					return
				}
				pool[i] = m
				done.Add(1)
			}
		})
	}
	wg.Wait()
	return pool, errors.Join(append(errs, ctx.Err())...)
}

// prepareCable drafts n memos of the seed case: a drafter, a co-drafter and
// 49 invited signers, 12 KB, all 51 signing. Memos are made one after
// another so that the mailbox never holds more than one memo's invitations.
func (r *runner) prepareCable(ctx context.Context, n, workers int) ([]ready, error) {
	if len(r.pop.members) < cableAuthors {
		return nil, fmt.Errorf("bench: submit-cable needs %d members", cableAuthors)
	}
	authors := r.pop.members[:cableAuthors]
	pool := make([]ready, 0, n)
	r.out.status("preparing %d submit-cable memos (create, invite 49, 51 signatures each)", n)
	start := time.Now()
	var done atomic.Int64
	stop := r.out.ticker(func() string {
		return fmt.Sprintf("prepare submit-cable %d/%d %.1f memos/s", done.Load(), n, float64(done.Load())/time.Since(start).Seconds())
	})
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, maxPrepTime)
	defer cancel()
	for i := range n {
		m, err := r.draft(ctx, memoTitles[SubmitCable]+strconv.Itoa(i+1), body12K, authors, 1, min(workers, 16))
		if err != nil {
			return pool, fmt.Errorf("bench: prepare submit-cable: %w", err)
		}
		pool = append(pool, m)
		done.Add(1)
	}
	return pool, nil
}

// readable returns the memos of kind (memoTitles; "" for every kind) the
// principals can read, at least n and up to want: those this run
// submitted, those of an earlier run (listed from the distribution box), or
// new ones. Many memos, read in turn, keep each memo's list of events (a
// read is one, and a read shows them all) as short as in real use. Memos
// of a submit workload's kind cannot be made here: with fewer than n, it
// reads those there are, and with none it fails.
func (r *runner) readable(ctx context.Context, kind string, n, want int) ([]string, error) {
	have := len(r.ofKind(kind))
	if have < want {
		seen := map[string]bool{}
		r.mu.Lock()
		for _, m := range r.submitted {
			seen[m.id] = true
		}
		r.mu.Unlock()
		cursor := ""
		for page := 0; page < 20 && have < want; page++ {
			p, err := r.c.list(ctx, r.pop.principals[0].token, "distribution", cursor, 200)
			if err != nil {
				return nil, fmt.Errorf("bench: list the distribution box: %w", err)
			}
			for _, m := range p.Items {
				if k := memoKind(m.Title); !seen[m.ID] {
					r.addSubmitted(m.ID, k)
					if kind == "" || k == kind {
						have++
					}
				}
			}
			if cursor = p.NextCursor; cursor == "" {
				break
			}
		}
	}
	if have < n {
		switch kind {
		case "", Seeded:
			r.out.status("submitting %d memos to read", n-have)
			if _, err := r.seed(ctx, n-have, 8); err != nil {
				return nil, err
			}
		default:
			if have == 0 {
				return nil, fmt.Errorf("bench: no %s memos to read: run the %s workload first, in this run or an earlier one on the same --data", kind, kind)
			}
		}
	}
	return r.ofKind(kind), nil
}

// ofKind returns the ids of the readable memos of kind ("": every one).
func (r *runner) ofKind(kind string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for _, m := range r.submitted {
		if kind == "" || m.kind == kind {
			ids = append(ids, m.id)
		}
	}
	return ids
}

// runWorkload prepares and runs one workload.
func (r *runner) runWorkload(ctx context.Context, name string, clients int) (Result, error) {
	if err := r.fresh(ctx); err != nil {
		return Result{}, err
	}
	d := r.opt.Duration
	switch name {
	case SubmitSmall, SubmitCable:
		var pool []ready
		var err error
		if name == SubmitSmall {
			pool, err = r.prepareSmall(ctx, r.opt.Pool, clients)
		} else {
			pool, err = r.prepareCable(ctx, r.opt.CablePool, clients)
		}
		if err != nil {
			return Result{}, err
		}
		res := r.measureGrouped(ctx, name, clients, d, int64(len(pool)), func(ctx context.Context, _ int, i int64) error {
			m := pool[i]
			_, err := r.c.submit(ctx, m.token, m.id, m.revision)
			if err == nil {
				r.addSubmitted(m.id, name)
			}
			return err
		})
		if res.Ops == int64(len(pool)) {
			res.Note = fmt.Sprintf("ran until its pool of %d prepared memos was spent", len(pool))
		}
		return res, nil
	case Read:
		ids, err := r.readable(ctx, r.opt.ReadMemos, 200, 2000)
		if err != nil {
			return Result{}, err
		}
		// Every read commits its ledger leaf, and every commit empties the
		// readers' page caches: how many the store grouped is part of a
		// read's cost.
		res := r.measureGrouped(ctx, name, clients, d, 1<<40, func(ctx context.Context, _ int, i int64) error {
			p := r.pop.principals[i%int64(len(r.pop.principals))]
			return r.c.read(ctx, p.token, ids[i%int64(len(ids))])
		})
		res.Note = fmt.Sprintf("%d memos read in turn", len(ids))
		if k := r.opt.ReadMemos; k != "" {
			res.Note = fmt.Sprintf("%d %s memos read in turn", len(ids), k)
		}
		return res, nil
	case Inbox:
		// The office's list needs open memos: a run of inbox alone on a
		// new folder submits a page's worth first, as read does.
		if _, err := r.readable(ctx, "", 50, 50); err != nil {
			return Result{}, err
		}
		return r.measure(ctx, name, clients, d, 1<<40, func(ctx context.Context, _ int, _ int64) error {
			p, err := r.c.list(ctx, r.pop.office.token, "office", "", 50)
			if err == nil && len(p.Items) == 0 {
				err = errors.New("bench: the office's list is empty")
			}
			return err
		}), nil
	case Login:
		ms := r.pop.members
		return r.measure(ctx, name, clients, d, 1<<40, func(ctx context.Context, _ int, i int64) error {
			// People coming back, on the devices they signed in from before
			// (signInAll): 200 new devices at once from the load
			// generator's one address would be held back by the limit of
			// failed sign-ins per address, which counts attempts under way.
			m := ms[i%int64(len(ms))]
			_, _, err := r.c.signInFrom(ctx, m.name, password(m.name), m.device)
			return err
		}), nil
	}
	return Result{}, fmt.Errorf("bench: unknown workload %q", name)
}

// commits are the server's store commit counters, when it exports them.
type commits struct{ commits, syncs float64 }

func (r *runner) commitStats(ctx context.Context) (commits, bool) {
	c, ok1 := r.c.metric(ctx, "dissent_store_commits_total")
	s, ok2 := r.c.metric(ctx, "dissent_store_syncs_total")
	return commits{c, s}, ok1 && ok2
}

// measureGrouped is measure, with how many commits the store grouped into
// one fsync meanwhile, where its metrics say (SQLite's group commit).
func (r *runner) measureGrouped(ctx context.Context, name string, clients int, d time.Duration, maxOps int64, op func(ctx context.Context, worker int, i int64) error) Result {
	before, ok := r.commitStats(ctx)
	res := r.measure(ctx, name, clients, d, maxOps, op)
	if after, ok2 := r.commitStats(ctx); ok && ok2 && after.syncs > before.syncs {
		res.CommitsPerSync = (after.commits - before.commits) / (after.syncs - before.syncs)
	}
	return res
}

// measure runs op on clients goroutines until d has passed or maxOps
// operations have started, and measures them and the server meanwhile.
func (r *runner) measure(ctx context.Context, name string, clients int, d time.Duration, maxOps int64, op func(ctx context.Context, worker int, i int64) error) Result {
	rec := newRecorder()
	p := r.srv.proc
	var peak atomic.Int64
	if p.pid != 0 {
		_ = p.resetPeak()
	}
	db := ""
	if r.opt.Store == "postgres" {
		db = "postgres"
	}
	stopProfile := r.profile(ctx, name, d)
	defer stopProfile()
	meter := startCPU(p, db)
	start := time.Now()
	stopSampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if p.pid != 0 {
				if rss, _, err := p.memory(); err == nil && rss > peak.Load() {
					peak.Store(rss)
				}
			}
			select {
			case <-stopSampling:
				return
			case <-t.C:
			}
		}
	})
	var last int64
	lastAt := start
	stopTicker := r.out.ticker(func() string {
		ok := rec.ok.Load()
		now := time.Now()
		cur := float64(ok-last) / now.Sub(lastAt).Seconds()
		last, lastAt = ok, now
		return fmt.Sprintf("%-12s %5.1fs  %8d ok  %7.0f/s  errors %d  rss %s", name, now.Sub(start).Seconds(), ok, cur, rec.failed.Load(), mib(peak.Load()))
	})
	// At a fixed rate, operation i falls due at start + i×every and its
	// latency counts from then; otherwise from when it is sent.
	var every time.Duration
	if r.opt.Rate > 0 {
		every = max(time.Duration(float64(time.Second)/r.opt.Rate), 1)
	}
	var started atomic.Int64
	var wg sync.WaitGroup
	for w := range clients {
		wg.Go(func() {
			for ctx.Err() == nil && time.Since(start) < d {
				i := started.Add(1) - 1
				if i >= maxOps {
					return
				}
				t0 := time.Now()
				if every > 0 {
					if t0 = start.Add(time.Duration(i) * every); t0.Sub(start) >= d {
						return
					}
					if !sleepUntil(ctx, t0) {
						return
					}
				}
				err := op(ctx, w, i)
				rec.add(time.Since(t0), err)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	use := meter.stop()
	stopTicker()
	close(stopSampling)
	sampler.Wait()
	res := Result{Name: name, Clients: clients, Ops: rec.ok.Load(), Errors: rec.failed.Load(), ErrorKinds: rec.kinds, ErrorSamples: rec.samples,
		Seconds: elapsed.Seconds(), PerSec: float64(rec.ok.Load()) / elapsed.Seconds()}
	if every > 0 {
		res.Offered = r.opt.Rate
		due := min(maxOps, int64((d+every-1)/every))
		res.Unsent = max(0, due-rec.ok.Load()-rec.failed.Load())
	}
	lat := rec.latencies()
	res.P50, res.P95, res.P99, res.Max = ms(percentile(lat, 50)), ms(percentile(lat, 95)), ms(percentile(lat, 99)), ms(percentile(lat, 100))
	res.BenchCores, res.DBCores, res.OtherCores, res.StolenCores = use.self, use.dbCores, use.others, use.stolen
	if p.pid != 0 {
		if _, hwm, err := p.memory(); err == nil {
			res.PeakRSS = max(hwm, peak.Load())
		}
		if res.Ops > 0 {
			res.ServerCPU = use.server.Seconds()
			res.CPUPerOp = ms(use.server / time.Duration(res.Ops))
			if use.db > 0 {
				res.DBCPUPerOp = ms(use.db / time.Duration(res.Ops))
			}
		}
	}
	return res
}

// sleepUntil waits until t, or returns false if ctx ends first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	wait := time.Until(t)
	if wait <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
