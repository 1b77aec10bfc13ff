package main

import (
	"context"
	"flag"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/dissent-channel/dissent/internal/bench"
	"github.com/dissent-channel/dissent/internal/channel"
)

func cmdBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dissent bench", flag.ContinueOnError)
	data := fs.String("data", "", "the child server's data folder: new, or one an earlier run kept (default: a fresh temporary folder); with --url, the server's data folder, where the disk's fsync rate is measured")
	url := fs.String("url", "", "target this running server (loopback only) instead of starting one")
	pid := fs.Int("pid", 0, "with --url: the server's process id, for its memory and CPU")
	admin := fs.String("admin", "", "with --url: the administrator to set up users as (password from DISSENT_PASSWORD; the server's metrics token, if any, from DISSENT_METRICS_TOKEN)")
	keep := fs.Bool("keep", false, "keep the temporary data folder (and, with --store postgres, the run's database)")
	storeName := fs.String("store", "sqlite", "sqlite or postgres")
	pgURL := fs.String("pg-url", "", "with --store postgres: the server to create the run's database on, e.g. postgres://postgres@127.0.0.1:5432/postgres (dropped after the run unless its folder is kept or named with --data)")
	fast := fs.Bool("fast-argon", false, "create users with weak argon2id parameters (fast set-up; the login figure is then not the product's)")
	seed := fs.Int("seed", 0, "submit this many memos before the workloads")
	clients := fs.Int("clients", 0, "concurrent clients (default per workload: submit 32, read 50, inbox 4, login 200)")
	duration := fs.Duration("duration", 10*time.Second, "how long each workload runs, at most")
	rate := fs.Float64("rate", 0, "offer each workload N operations a second on a fixed schedule, latency counted from when each was due (default 0: each client sends its next as soon as its last is answered)")
	workloads := fs.String("workloads", strings.Join(bench.Workloads, ","), "comma-separated workloads to run, or none")
	pool := fs.Int("pool", 3000, "memos prepared for submit-small (the workload ends when they are spent)")
	cablePool := fs.Int("cable-pool", 150, "memos prepared for submit-cable")
	startup := fs.Bool("startup", false, "also restart the server on its data folder and time /readyz")
	readMemos := fs.String("read-memos", "", "read only the memos one kind submitted: seed (1 author), submit-small (3) or submit-cable (51), in this run or an earlier one on --data (default: every readable memo)")
	profile := fs.String("profile", "", "write a CPU profile of the child server during each workload to DIR/WORKLOAD.pprof")
	jsonOut := fs.String("json", "", "write the results to this JSON file")
	baseline := fs.String("baseline", "", "compare with the results of an earlier run (a --json file)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return channel.Invalid("args", "dissent bench takes only flags, not %q", fs.Arg(0))
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var ws []string
	if *workloads != "none" && *workloads != "" {
		ws = strings.Split(*workloads, ",")
	} else {
		ws = []string{}
	}
	opt := bench.Options{
		Exe: exe, URL: *url, PID: *pid, Admin: *admin, AdminPassword: os.Getenv("DISSENT_PASSWORD"), MetricsToken: os.Getenv("DISSENT_METRICS_TOKEN"),
		Data: *data, Keep: *keep, Store: *storeName, PGURL: *pgURL, FastArgon: *fast, Seed: *seed,
		Clients: *clients, Duration: *duration, Rate: *rate, Workloads: ws, Pool: *pool, CablePool: *cablePool,
		Startup: *startup, ReadMemos: *readMemos, JSON: *jsonOut, Profile: *profile, Baseline: *baseline, Command: strings.Join(append([]string{"dissent", "bench"}, args...), " "),
	}
	_, err = bench.Run(ctx, opt, os.Stdout, os.Stderr, term.IsTerminal(int(os.Stderr.Fd())))
	return err
}
