package service_test

import (
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/storetest"
	"github.com/dissent-channel/dissent/internal/vault"
	"github.com/dissent-channel/dissent/internal/workdays"
)

// The benchmarks of the workloads in BENCHMARKS.md, on SQLite, without HTTP:
// what the service itself costs. `dissent bench` measures the same
// workloads through the API. Each reports, where it helps, the cost of the
// X25519 and Ed25519 operations one operation is made of, measured alone
// on this CPU, so that a figure reads as a ratio to the machine's limit.

// Bodies of the sizes the workloads name.
var (
	body8K  = benchBody(8 << 10)
	body12K = benchBody(12 << 10)
)

func benchBody(n int) string {
	const para = "We dissent from the current policy for reasons set out below, with evidence from our posts. "
	return strings.Repeat(para, n/len(para)+1)[:n]
}

// principalCount is the standing distribution of the cable case.
const principalCount = 6

// benchDeployment is a deployment with an office member and six principals
// on the standing distribution.
func benchDeployment(b *testing.B) *servicetest.Deployment {
	b.Helper()
	h := servicetest.New(b, storetest.OpenSQLite(b))
	d := &servicetest.Deployment{Harness: h}
	d.Office = h.Create("office", false, "office")
	names := make([]string, principalCount)
	for i := range names {
		names[i] = fmt.Sprintf("p%d", i+1)
		d.Principals = append(d.Principals, h.Create(names[i], false, "principal"))
	}
	if _, err := h.Svc.SetDistribution(h.Ctx, h.Admin, service.Distribution{Usernames: names}); err != nil {
		b.Fatal(err)
	}
	h.Confirm(d.Office, d.Principals...)
	return d
}

// members creates n eligible members named prefix-1…prefix-n, signed in.
func members(d *servicetest.Deployment, prefix string, n int) []*service.Actor {
	out := make([]*service.Actor, n)
	for i := range out {
		out[i] = d.Member(fmt.Sprintf("%s-%d", prefix, i+1))
	}
	return out
}

// readyMemo drafts a memo by authors[0] with the others as co-drafters
// (invited as signers when there are more than two) and has every author
// sign it: what is left is the submission.
func readyMemo(b *testing.B, d *servicetest.Deployment, authors []*service.Actor, body string) *service.Memo {
	b.Helper()
	ctx := d.Ctx
	var codrafters, signers []string
	for i, a := range authors[1:] {
		if i == 0 {
			codrafters = append(codrafters, a.Username())
		} else {
			signers = append(signers, a.Username())
		}
	}
	if len(authors) <= 3 {
		codrafters, signers = append(codrafters, signers...), nil
	}
	m, err := d.Svc.CreateMemo(ctx, authors[0], service.MemoInput{Title: "A dissent on policy", Body: body, Marking: "SENSITIVE BUT UNCLASSIFIED", Codrafters: codrafters})
	if err != nil {
		b.Fatal(err)
	}
	if len(signers) > 0 {
		if _, err := d.Svc.InviteSigners(ctx, authors[0], m.ID, signers); err != nil {
			b.Fatal(err)
		}
	}
	for _, a := range authors {
		if _, err := d.Svc.Sign(ctx, a, m.ID, m.Revision); err != nil {
			b.Fatalf("sign as %s: %v", a.Username(), err)
		}
	}
	return m
}

// cryptoCost is what this CPU spends on the primitives, measured alone.
type cryptoCost struct {
	x25519, ed25519Sign, ed25519Verify time.Duration
}

// cpuTime returns the CPU time (user and system) of the whole process, or
// of the calling thread. CPU time, unlike wall time, hardly moves when
// other work shares the machine, which on a shared 2-core machine it does.
func cpuTime(who int) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(who, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter reports the process's CPU time per operation as cpu-ns/op.
type cpuMeter time.Duration

func startCPU() cpuMeter { return cpuMeter(cpuTime(unix.RUSAGE_SELF)) }

func (m cpuMeter) report(b *testing.B) time.Duration {
	per := (cpuTime(unix.RUSAGE_SELF) - time.Duration(m)) / time.Duration(max(b.N, 1))
	b.ReportMetric(float64(per.Nanoseconds()), "cpu-ns/op")
	return per
}

// measureCrypto times each primitive, in CPU time of one thread, for about
// 50 ms each.
func measureCrypto(b *testing.B) cryptoCost {
	b.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	timeIt := func(f func()) time.Duration {
		n, start, cpu := 0, time.Now(), cpuTime(unix.RUSAGE_THREAD)
		for time.Since(start) < 50*time.Millisecond {
			f()
			n++
		}
		return (cpuTime(unix.RUSAGE_THREAD) - cpu) / time.Duration(n)
	}
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	peer := k.PublicKey()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 200)
	sig := ed25519.Sign(priv, msg)
	pub := priv.Public().(ed25519.PublicKey)
	return cryptoCost{
		x25519:        timeIt(func() { _, _ = k.ECDH(peer) }),
		ed25519Sign:   timeIt(func() { ed25519.Sign(priv, msg) }),
		ed25519Verify: timeIt(func() { ed25519.Verify(pub, msg, sig) }),
	}
}

// report adds the CPU time of one operation, the crypto floor of it (its
// X25519 and Ed25519 operations, measured alone) and the ratio of the two.
func (c cryptoCost) report(b *testing.B, m cpuMeter, x25519, signs, verifies int) {
	per := m.report(b)
	floor := time.Duration(x25519)*c.x25519 + time.Duration(signs)*c.ed25519Sign + time.Duration(verifies)*c.ed25519Verify
	b.ReportMetric(float64(floor.Nanoseconds()), "crypto-ns/op")
	b.ReportMetric(float64(per)/float64(floor), "x-crypto")
}

// submitCrypto is the X25519 and Ed25519 work of one submission by n
// signers: two X25519 operations per age wrap (the ephemeral key and the
// exchange), to the office and each principal; a verification per
// signature; and the signature of the checkpoint in the receipt.
func submitCrypto(n int) (x25519, signs, verifies int) {
	return 2 * (1 + principalCount), 1, n
}

func benchSubmit(b *testing.B, authors int, body string) {
	d := benchDeployment(b)
	as := members(d, "author", authors)
	ms := make([]*service.Memo, b.N)
	for i := range ms {
		ms[i] = readyMemo(b, d, as, body)
	}
	cost := measureCrypto(b)
	b.ReportAllocs()
	b.ResetTimer()
	meter := startCPU()
	for _, m := range ms {
		if _, err := d.Svc.Submit(d.Ctx, as[0], m.ID, m.Revision); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	x, signs, verifies := submitCrypto(authors)
	cost.report(b, meter, x, signs, verifies)
}

// BenchmarkSubmitSmall submits a signed 3-author memo with an 8 KB body.
func BenchmarkSubmitSmall(b *testing.B) { benchSubmit(b, 3, body8K) }

// BenchmarkSubmitCable submits the seed case: 51 signers, 12 KB.
func BenchmarkSubmitCable(b *testing.B) { benchSubmit(b, 51, body12K) }

// submittedMemos makes n signed and submitted single-author 8 KB memos.
func submittedMemos(b *testing.B, d *servicetest.Deployment, author *service.Actor, n int) []*service.Memo {
	b.Helper()
	out := make([]*service.Memo, n)
	for i := range out {
		m := readyMemo(b, d, []*service.Actor{author}, body8K)
		if _, err := d.Svc.Submit(d.Ctx, author, m.ID, m.Revision); err != nil {
			b.Fatal(err)
		}
		out[i] = m
	}
	return out
}

// BenchmarkRead is a principal opening a memo: the key unwrapped, the body
// opened, the read recorded in the ledger. It reads 200 memos in turn, so
// each memo's event list stays short as in real use.
func BenchmarkRead(b *testing.B) {
	d := benchDeployment(b)
	ms := submittedMemos(b, d, d.Member("author"), 200)
	cost := measureCrypto(b)
	reader := d.Principals[0]
	b.ReportAllocs()
	b.ResetTimer()
	meter := startCPU()
	for i := 0; i < b.N; i++ {
		if _, err := d.Svc.GetMemo(d.Ctx, reader, ms[i%len(ms)].ID); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// One age unwrap: one X25519 operation.
	cost.report(b, meter, 1, 0, 0)
}

// BenchmarkInbox is the office's first page (50) of open memos by deadline.
func BenchmarkInbox(b *testing.B) {
	for _, n := range []int{1000} {
		b.Run(fmt.Sprintf("memos=%d", n), func(b *testing.B) {
			d := benchDeployment(b)
			submittedMemos(b, d, d.Member("author"), n)
			cost := measureCrypto(b)
			b.ReportAllocs()
			b.ResetTimer()
			meter := startCPU()
			for i := 0; i < b.N; i++ {
				p, err := d.Svc.ListMemos(d.Ctx, d.Office, service.BoxOffice, nil, "", 50)
				if err != nil {
					b.Fatal(err)
				}
				if len(p.Items) != min(50, n) {
					b.Fatalf("got %d memos, want %d", len(p.Items), min(50, n))
				}
			}
			b.StopTimer()
			// An unwrap per listed memo, and the office key's once.
			cost.report(b, meter, min(50, n)+1, 0, 0)
		})
	}
}

// BenchmarkSignIn is a sign-in: argon2id over the password, the identity
// opened, a session stored; then the first request's Authenticate, which
// unseals the session and parses the identity. It runs with the default
// argon2id parameters and with the tests' weak ones, which show the rest.
func BenchmarkSignIn(b *testing.B) {
	for _, c := range []struct {
		name   string
		params vault.PasswordParams
	}{
		{"argon=default", vault.DefaultPasswordParams()},
		{"argon=test", vault.TestPasswordParams()},
	} {
		b.Run(c.name, func(b *testing.B) {
			svc := signInService(b, c.params)
			ctx := context.Background()
			pw := servicetest.Password("member")
			cost := measureCrypto(b)
			b.ReportAllocs()
			b.ResetTimer()
			meter := startCPU()
			for i := 0; i < b.N; i++ {
				tok, _, err := svc.SignIn(ctx, "member", pw)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := svc.Authenticate(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			// Parsing the identity twice (sign-in and Authenticate): an
			// X25519 and an Ed25519 base-point multiplication each time.
			cost.report(b, meter, 2, 2, 0)
		})
	}
}

// signInService is a service with the given argon2id parameters and one
// member, "member".
func signInService(b *testing.B, params vault.PasswordParams) *service.Service {
	b.Helper()
	ctx := context.Background()
	profile := channel.Profiles[channel.DefaultProfile]
	cal, err := workdays.New(workdays.Config{Location: servicetest.Office, Holidays: profile.Holidays})
	if err != nil {
		b.Fatal(err)
	}
	svc := service.New(storetest.OpenSQLite(b), service.Config{Profile: profile, Calendar: cal, Origin: "dissent.test", SignInLimit: 1000},
		vault.NewPasswords(params, 8), nil)
	if _, err := svc.Init(ctx, service.Setup{
		Admin:      service.NewUser{Username: "admin", DisplayName: "Administrator", Email: "admin@example.test", Password: servicetest.Password("admin"), Roles: []string{"admin"}},
		Custodians: []string{"c1", "c2"}, Threshold: 2,
	}); err != nil {
		b.Fatal(err)
	}
	tok, _, err := svc.SignIn(ctx, "admin", servicetest.Password("admin"))
	if err != nil {
		b.Fatal(err)
	}
	admin, err := svc.Authenticate(ctx, tok)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, admin, service.NewUser{Username: "member", DisplayName: "A member", Email: "member@example.test",
		Password: servicetest.Password("member"), Roles: []string{"member"}, Eligible: true}); err != nil {
		b.Fatal(err)
	}
	return svc
}

// BenchmarkRemindersRun is one run of the reminders job over open memos of
// which none has anything due: what a deployment pays every five minutes
// for the memos it holds open. The memos are submitted over the day before
// (the office owes each an acknowledgement within two working days and a
// reply), written straight to the store: the job reads only a memo's state
// and times. The first run, before the timer, works out their next checks,
// as the first run after the upgrade that added them does: its time is
// reported as first-run-s.
func BenchmarkRemindersRun(b *testing.B) {
	for _, open := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("open=%d", open), func(b *testing.B) {
			h := servicetest.New(b, storetest.OpenSQLite(b))
			profile := channel.Profiles["state-2fam070"]
			now := h.Clock.Now()
			for i := 0; i < open; {
				tx, err := h.Store.Begin(h.Ctx, true)
				if err != nil {
					b.Fatal(err)
				}
				for end := min(i+1000, open); i < end; i++ {
					at := now.Add(-time.Duration(i) * 24 * time.Hour / time.Duration(open))
					d := profile.Deadlines(h.Calendar, at)
					m := &store.Memo{ID: fmt.Sprintf("m%07d", i), State: string(channel.Submitted), Profile: profile.Name,
						Revision: 1, KeyVersion: 1, CreatedAt: at.UnixMicro(), UpdatedAt: at.UnixMicro(), SubmittedAt: at.UnixMicro(),
						AcknowledgeBy: d.AcknowledgeBy.UnixMicro(), ReplyBy: d.ReplyBy.UnixMicro(), ReplyLatest: d.ReplyLatest.UnixMicro(),
						DueAt: d.AcknowledgeBy.UnixMicro(), AuthorsCount: 3, Roster: []byte("sealed roster")}
					if err := tx.CreateMemo(h.Ctx, m); err != nil {
						b.Fatal(err)
					}
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			start := time.Now()
			if _, err := h.Svc.RunReminders(h.Ctx); err != nil {
				b.Fatal(err)
			}
			first := time.Since(start)
			for b.Loop() {
				run, err := h.Svc.RunReminders(h.Ctx)
				if err != nil || run.Notices != 0 {
					b.Fatalf("%+v %v", run, err)
				}
			}
			b.ReportMetric(first.Seconds(), "first-run-s")
		})
	}
}

// BenchmarkCheckLifecycles is the background check of every memo's row
// against its ledger, over 1,000 submitted memos; ns/op is one whole run.
func BenchmarkCheckLifecycles(b *testing.B) {
	d := benchDeployment(b)
	const n = 1000
	submittedMemos(b, d, d.Member("author"), n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		checked, bad, err := d.Svc.CheckLifecycles(d.Ctx)
		if err != nil || checked != n || bad != 0 {
			b.Fatalf("checked %d, %d disagree, %v", checked, bad, err)
		}
	}
}
