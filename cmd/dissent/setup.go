package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/config"
	"github.com/dissent-channel/dissent/internal/demo"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/server"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/vault"
	"github.com/dissent-channel/dissent/internal/web"
)

type initOptions struct {
	data, admin, display, email, password string
	custodians                            []string
	threshold                             int
}

func cmdInit(ctx context.Context, args []string) error {
	fs, data := flags("init")
	admin := fs.String("admin", "", "the first administrator's username")
	display := fs.String("display-name", "", "their display name (default: the username)")
	email := fs.String("email", "", "their e-mail address (default: USERNAME@localhost.invalid)")
	stdin := fs.Bool("password-stdin", false, "read the administrator's password from standard input")
	custodians := fs.String("custodians", "", "comma-separated names of the recovery key's custodians (default: custodian-1,custodian-2,custodian-3)")
	threshold := fs.Int("threshold", 2, "how many custodians together can restore a user's keys (at least 2)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *admin == "" {
		return channel.Invalid("admin", "name the first administrator with --admin")
	}
	pw, err := newPassword(*stdin, "Password for "+*admin+": ")
	if err != nil {
		return err
	}
	o := initOptions{data: *data, admin: *admin, display: *display, email: *email, password: pw, threshold: *threshold}
	if *custodians != "" {
		o.custodians = strings.Split(*custodians, ",")
	}
	shares, err := initDeployment(ctx, o)
	if err != nil {
		return err
	}
	k := shares[0].Threshold
	fmt.Printf("Dissent is set up in %s with administrator %q.\n", *data, *admin)
	fmt.Printf("Recovery shares (%d of %d needed) are in %s:\n", k, len(shares), filepath.Join(*data, "recovery-shares"))
	fmt.Println("  move each to its custodian, off this machine, and delete the copies here.")
	fmt.Println("Start it with: dissent serve --data " + *data)
	fmt.Printf("Then found the channel office at a ceremony: %d custodians bring their shares; an administrator creates the\n", k)
	fmt.Println("  office's first member, who signs in for the first time in their sight, chooses their own password and reads")
	fmt.Println("  them the fingerprint on their account page; then run")
	fmt.Println("  dissent office found --data " + *data + " --user NAME --fingerprint \"XXXX XXXX XXXX XXXX XXXX\" SHARE-FILE...")
	fmt.Println("  Until then nothing can be submitted (docs/OPERATIONS.md, \"Found the channel office\").")
	return nil
}

// initDeployment creates the data folder, the ledger key, the recovery
// key (written out as shares) and the first administrator.
func initDeployment(ctx context.Context, o initOptions) ([]vault.Share, error) {
	cfg, err := config.Load(o.data, os.Getenv)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(cfg.LedgerKeyPath()); err == nil {
		return nil, channel.Errorf(channel.ECONFLICT, "%s is already set up (its ledger key exists)", o.data)
	}
	folded := make(map[string]string, len(o.custodians))
	for _, c := range o.custodians {
		// A custodian's name is their share's file name.
		if c == "" || strings.ContainsAny(c, `/\`) || strings.HasPrefix(c, ".") {
			return nil, channel.Invalid("custodians", "custodian %q: a name is also its share's file name, so it may not be empty, hold / or \\, or begin with a dot", c)
		}
		// On a file system that ignores case, two names differing only in
		// case would write one file, and one custodian's share would be lost.
		if first, ok := folded[strings.ToLower(c)]; ok {
			return nil, channel.Invalid("custodians", "custodians %q and %q: names are share file names, so they must differ in more than case", first, c)
		}
		folded[strings.ToLower(c)] = c
	}
	if err := os.MkdirAll(o.data, 0o700); err != nil {
		return nil, err
	}
	// The folder will hold password hashes and the signing key: a folder
	// made beforehand, for others to read, is closed to them.
	if err := os.Chmod(o.data, 0o700); err != nil {
		return nil, err
	}
	if o.display == "" {
		o.display = o.admin
	}
	if o.email == "" {
		o.email = o.admin + "@localhost.invalid"
	}
	if len(o.custodians) == 0 {
		o.custodians = []string{"custodian-1", "custodian-2", "custodian-3"}
	}
	if o.threshold == 0 {
		o.threshold = 2
	}
	skey, vkey, err := ledger.GenerateKey(cfg.Channel.Origin)
	if err != nil {
		return nil, err
	}
	st, err := server.OpenStore(ctx, cfg, true)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	svc, err := server.NewService(cfg, st, skey, logger(), false)
	if err != nil {
		return nil, err
	}
	// What can fail is written before the database takes the set-up: the
	// keys, into files beside where they go, and the shares' folder. After
	// it, only renames and the shares are left, so a failed init leaves a
	// folder that init can run on again.
	key, err := writeAside(cfg.LedgerKeyPath(), skey+"\n", 0o600)
	if err != nil {
		return nil, fmt.Errorf("write the ledger key beside %s: %w", cfg.LedgerKeyPath(), err)
	}
	defer os.Remove(key)
	pub, err := writeAside(filepath.Join(o.data, "ledger.pub"), vkey+"\n", 0o644)
	if err != nil {
		return nil, err
	}
	defer os.Remove(pub)
	dir := filepath.Join(o.data, "recovery-shares")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	shares, err := svc.Init(ctx, service.Setup{
		Admin:      service.NewUser{Username: o.admin, DisplayName: o.display, Email: o.email, Password: o.password, Roles: []string{"admin"}},
		Custodians: o.custodians, Threshold: o.threshold, LedgerVKey: vkey,
	})
	if err != nil {
		return nil, err
	}
	if err := os.Rename(key, cfg.LedgerKeyPath()); err != nil {
		return nil, fmt.Errorf("the deployment is set up, but its signing key could not be put in place (%w): move %s to %s before anything else", err, key, cfg.LedgerKeyPath())
	}
	if err := os.Rename(pub, filepath.Join(o.data, "ledger.pub")); err != nil {
		return nil, err
	}
	for _, sh := range shares {
		if err := os.WriteFile(filepath.Join(dir, sh.Custodian+".txt"), []byte(sh.Encode()), 0o600); err != nil {
			return nil, err
		}
	}
	return shares, nil
}

// writeAside writes content into a new file in path's folder, to be
// renamed to path, and returns its name.
func writeAside(path, content string, mode os.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-")
	if err != nil {
		return "", err
	}
	_, err = f.WriteString(content)
	err = errors.Join(err, f.Chmod(mode), f.Sync(), f.Close())
	if err != nil {
		_ = os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

func cmdDemo(ctx context.Context, args []string) error {
	fs, data := flags("demo")
	addr := addrFlag(fs)
	fs.Lookup("data").DefValue = "dissent-demo"
	if os.Getenv("DISSENT_DATA") == "" {
		*data = "dissent-demo"
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	web.Preload()
	cfg, err := config.Load(*data, os.Getenv)
	if err != nil {
		return err
	}
	if _, err := os.Stat(cfg.LedgerKeyPath()); errors.Is(err, os.ErrNotExist) {
		fmt.Println("Setting up a demo deployment in " + *data + " (this takes a few seconds)...")
		shares, err := initDeployment(ctx, initOptions{data: *data, admin: "admin", display: "Service Administrator", password: demo.Password})
		if err != nil {
			return err
		}
		a, err := openApp(ctx, *data, *addr, true)
		if err != nil {
			return err
		}
		err = seedDemo(ctx, a.svc, shares)
		_ = a.store.Close()
		if err != nil {
			return fmt.Errorf("seeding the demo: %w", err)
		}
	}
	a, err := openApp(ctx, *data, *addr, true)
	if err != nil {
		return err
	}
	return a.serve(ctx, func(url string) {
		fmt.Println("Dissent demo is ready at " + url)
		fmt.Println("Sign in as any of these (password " + demo.Password + "):")
		tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
		for _, acc := range demo.Accounts {
			note := acc.Note
			if acc.Username == demo.Contractor && !a.svc.Config().Profile.EligibleOnly {
				note = "a contractor (this profile lets every member file)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", acc.Username, acc.Role, note)
		}
		_ = tw.Flush()
		fmt.Println("Stop it with Ctrl-C; the data stays in " + *data + ".")
	})
}

func seedDemo(ctx context.Context, svc *service.Service, shares []vault.Share) error {
	tok, _, err := svc.SignIn(ctx, "admin", demo.Password)
	if err != nil {
		return err
	}
	adm, err := svc.Authenticate(ctx, tok)
	if err != nil {
		return err
	}
	return demo.Seed(ctx, svc, adm, shares)
}

func cmdUser(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return channel.Invalid("command", "usage: dissent user add|list|disable|enable --as ADMIN ...")
	}
	sub := args[0]
	fs, data := flags("user " + sub)
	as := fs.String("as", "", "your username (an administrator); password from DISSENT_PASSWORD or a prompt")
	username := fs.String("username", "", "the account's username")
	display := fs.String("display-name", "", "display name (add)")
	email := fs.String("email", "", "e-mail address (add)")
	roles := fs.String("roles", "member", "comma-separated roles: member, office, principal, auditor, admin (add)")
	eligible := fs.Bool("eligible", true, "may file and sign memos (add)")
	pwStdin := fs.Bool("password-stdin", false, "read the new account's password from standard input (add)")
	q := fs.String("q", "", "search text (list)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if (sub == "add" || sub == "disable" || sub == "enable") && *username == "" {
		return channel.Invalid("username", "dissent user %s needs --username NAME", sub)
	}
	a, err := openApp(ctx, *data, "", false)
	if err != nil {
		return err
	}
	defer a.store.Close()
	me, err := a.signIn(ctx, *as)
	if err != nil {
		return err
	}
	// The session's row holds the keys of whoever signed in: it ends with
	// the command.
	defer func() { _ = a.svc.SignOut(ctx, me) }()
	switch sub {
	case "add":
		pw, err := newPassword(*pwStdin, "A first password for "+*username+" (they sign in with it once and choose their own): ")
		if err != nil {
			return err
		}
		u, err := a.svc.CreateUser(ctx, me, service.NewUser{Username: *username, DisplayName: *display, Email: *email, Password: pw, Roles: strings.Split(*roles, ","), Eligible: *eligible})
		if err != nil {
			return err
		}
		fmt.Printf("Created %s (%s). They sign in with that password and choose their own: their keys are made then, under a password no administrator knows.\n", u.Username, strings.Join(u.Roles, ", "))
	case "list":
		tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tDISPLAY NAME\tROLES\tELIGIBLE\tSTATE")
		cursor := ""
		for {
			page, err := a.svc.Directory(ctx, me, *q, cursor, 200)
			if err != nil {
				return err
			}
			for _, u := range page.Items {
				state := "active"
				if u.Disabled {
					state = "disabled"
				} else if u.KeyState == "pending" {
					state = "no keys yet: first sign-in"
				} else if u.KeyState != "active" {
					state = "keys locked"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", u.Username, u.DisplayName, strings.Join(u.Roles, ","), u.Eligible != nil && *u.Eligible, state)
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		return tw.Flush()
	case "disable", "enable":
		off := sub == "disable"
		if _, err := a.svc.UpdateUser(ctx, me, *username, service.UserUpdate{Disabled: &off}); err != nil {
			return err
		}
		fmt.Printf("%s is %sd.\n", *username, sub)
	default:
		return channel.Invalid("command", "unknown user command %q: want add, list, disable or enable", sub)
	}
	return nil
}

func cmdCalendar(ctx context.Context, args []string) error {
	fs, data := flags("calendar")
	profile := fs.String("profile", channel.DefaultProfile, "policy profile: state-2fam070, eu-2019-1937 or nrc-dpo")
	from := fs.String("from", "", "when the memo is submitted, RFC 3339 (e.g. 2026-07-02T16:30:00-04:00)")
	tz := fs.String("tz", "", "the office's time zone (default from the config, America/New_York)")
	year := fs.Int("holidays", 0, "also list the non-working days of this year")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(*data, os.Getenv)
	if err != nil {
		return err
	}
	cfg.Channel.Profile = *profile
	if *tz != "" {
		cfg.Channel.TimeZone = *tz
	}
	p, err := cfg.Profile()
	if err != nil {
		return err
	}
	cal, err := cfg.Calendar()
	if err != nil {
		return err
	}
	if *year > 0 {
		for _, h := range cal.Holidays(*year) {
			note := ""
			if h.Observed {
				note = " (observed)"
			}
			fmt.Printf("%s  %s  %s%s\n", h.Date, h.Date.Weekday().String()[:3], h.Name, note)
		}
		if *from == "" {
			return nil
		}
	}
	t, err := time.Parse(time.RFC3339, *from)
	if err != nil {
		return channel.Invalid("from", "--from must be an RFC 3339 time such as 2026-07-02T16:30:00-04:00")
	}
	d := p.Deadlines(cal, t)
	show := func(t time.Time) string { return t.In(cal.Location()).Format("Mon 2006-01-02 15:04 MST") }
	fmt.Printf("profile:         %s (%s)\n", p.Name, p.Title)
	fmt.Printf("office zone:     %s, holidays %s\n", cal.Location(), p.Holidays)
	fmt.Printf("submitted:       %s\n", show(t))
	fmt.Printf("received:        %s\n", show(cal.Received(t)))
	fmt.Printf("acknowledge by:  %s  (%s)\n", show(d.AcknowledgeBy), p.Acknowledge)
	fmt.Printf("reply by:        %s  (%s)\n", show(d.ReplyBy), p.Reply)
	if !d.ReplyLatest.Equal(d.ReplyBy) {
		fmt.Printf("reply at latest: %s  (%s)\n", show(d.ReplyLatest), p.ReplyLatest)
	}
	return nil
}

func cmdRecovery(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "restore" {
		return channel.Invalid("command", "usage: dissent recovery restore --data DIR --user NAME [--password-stdin] SHARE-FILE...")
	}
	fs, data := flags("recovery restore")
	user := fs.String("user", "", "the user whose keys to restore (their password was reset by an administrator)")
	stdin := fs.Bool("password-stdin", false, "read the user's new password from standard input")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	shares, err := readShares(fs.Args())
	if err != nil {
		return err
	}
	// The keys are sealed under a password only the user knows: the one
	// the administrator set at the reset would let them open the keys.
	pw, err := newPassword(*stdin, *user+", type a new password of your own (not the one the administrator set; no one else should see it): ")
	if err != nil {
		return err
	}
	a, err := openApp(ctx, *data, "", false)
	if err != nil {
		return err
	}
	defer a.store.Close()
	if err := a.svc.RecoverKeys(ctx, shares, *user, pw); err != nil {
		return err
	}
	fmt.Printf("The keys of %s are restored under the password they just typed, which is now their password; the one the administrator set no longer works. They have been told in the app. Memos and invitations reach them again once a member of the channel office, not an administrator, confirms their keys with them (Office, Members).\n", *user)
	return nil
}

// readShares reads the custodians' share files.
func readShares(files []string) ([]vault.Share, error) {
	var shares []vault.Share
	for _, f := range files {
		b, err := readSmall(f, smallFile)
		if err != nil {
			return nil, err
		}
		sh, err := vault.ParseShare(string(b))
		if err != nil {
			return nil, channel.Invalid("shares", "%s: %v", f, err)
		}
		shares = append(shares, sh)
	}
	return shares, nil
}

// cmdOffice runs the custodians' ceremonies for the channel office:
// founding it (no sign-in does, since an administrator could be the one
// who signed in first) and giving its key to a member when none of its
// members can (service.FoundOffice, GrantOfficeByCustodians).
func cmdOffice(ctx context.Context, args []string) error {
	const usage = "usage: dissent office found|grant --data DIR --user NAME --fingerprint \"XXXX XXXX XXXX XXXX XXXX\" SHARE-FILE..."
	if len(args) == 0 || (args[0] != "found" && args[0] != "grant") {
		return channel.Invalid("command", usage)
	}
	fs, data := flags("office " + args[0])
	user := fs.String("user", "", "the office member, who has just signed in for the first time in your sight and chosen their own password")
	fingerprint := fs.String("fingerprint", "", "the fingerprint of their keys, which they read you from their own account page")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *user == "" || *fingerprint == "" || fs.NArg() == 0 {
		return channel.Invalid("command", usage)
	}
	shares, err := readShares(fs.Args())
	if err != nil {
		return err
	}
	a, err := openApp(ctx, *data, "", false)
	if err != nil {
		return err
	}
	defer a.store.Close()
	do, done := a.svc.FoundOffice, "The channel office is founded: %s holds its key, and memos submitted from now on reach it. They let the office's other members in (Office, Members) and confirm the principals' keys with them.\n"
	if args[0] == "grant" {
		do, done = a.svc.GrantOfficeByCustodians, "%s holds the office's key: they open its memos, let its other members in and confirm keys.\n"
	}
	made, err := do(ctx, shares, *user, *fingerprint)
	if !made.IsZero() {
		fmt.Printf("The keys of %s were made at %s (%s ago): that must be the first sign-in you watched.\n", *user, made.UTC().Format(time.RFC3339), time.Since(made).Round(time.Second))
	}
	if err != nil {
		return err
	}
	fmt.Printf(done, *user)
	return nil
}

func cmdStats(ctx context.Context, args []string) error {
	fs, data := flags("stats")
	year := fs.Int("year", time.Now().Year(), "the year")
	as := fs.String("as", "", "your username (auditor, office or administrator)")
	asJSON := fs.Bool("json", false, "print JSON (the same as GET /api/v1/stats)")
	asCSV := fs.Bool("csv", false, "print CSV rows of table, cell and value (the same as GET /api/v1/stats/csv)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *asJSON && *asCSV {
		return channel.Invalid("csv", "choose --json or --csv")
	}
	a, err := openApp(ctx, *data, "", false)
	if err != nil {
		return err
	}
	defer a.store.Close()
	me, err := a.signIn(ctx, *as)
	if err != nil {
		return err
	}
	// The session's row holds the keys of whoever signed in: it ends with
	// the command.
	defer func() { _ = a.svc.SignOut(ctx, me) }()
	st, err := a.svc.YearStats(ctx, me, *year)
	if err != nil {
		return err
	}
	switch {
	case *asJSON:
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	case *asCSV:
		return st.WriteCSV(os.Stdout)
	}
	fmt.Printf("Figures for %d (counts below %d shown as <%d; \"suppressed\" hides a count that would reveal one)\n", st.Year, st.Suppression, st.Suppression)
	fmt.Printf("submitted: %s\n", st.Submitted)
	show := func(title string, m map[string]service.Count, cells ...string) {
		fmt.Println(title + ":")
		if len(cells) == 0 {
			cells = sortedKeys(m)
		}
		for _, c := range cells {
			fmt.Printf("  %-26s %s\n", c, m[c])
		}
	}
	share := func(label string, v *float64) {
		if v != nil {
			fmt.Printf("  %-26s %.1f%%\n", label, *v*100)
		} else {
			fmt.Printf("  %-26s not published\n", label)
		}
	}
	var states []string
	for _, s := range channel.States {
		if _, ok := st.States[string(s)]; ok {
			states = append(states, string(s))
		}
	}
	show("by state (returns and withdrawals included)", st.States, states...)
	show("awaiting acknowledgement", st.AwaitingAcknowledgement, "within_deadline", "overdue")
	show("acknowledged", st.Acknowledged, "on_time", "late")
	share("on time", st.AcknowledgedOnTimeShare)
	show("awaiting reply", st.AwaitingReply, "within_deadline", "overdue")
	show("replied", st.Replied, "on_time", "within_latest", "late")
	share("on time", st.RepliedOnTimeShare)
	share("by the latest date", st.RepliedByLatestShare)
	if st.MedianWorkdaysToReply != nil {
		fmt.Printf("  %-26s %.1f working days (%.1f days)\n", "median time to reply", *st.MedianWorkdaysToReply, *st.MedianDaysToReply)
	} else {
		fmt.Printf("  %-26s not published\n", "median time to reply")
	}
	fmt.Printf("appeals:\n  %-26s %s\n", "made", st.AppealsMade)
	show("awaiting decision on appeal", st.AwaitingAppeal, "within_deadline", "overdue")
	show("appeals decided", st.Appeals, "on_time", "late")
	show("authors per memo", st.SignerBands, "1", "2-5", "6-20", "21-50", "51+")
	return nil
}
