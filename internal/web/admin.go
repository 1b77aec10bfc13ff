package web

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/workdays"
)

// allRoles are the roles an administrator may give, in the order shown.
var allRoles = []string{"member", "office", "principal", "auditor", "admin"}

type usersData struct {
	Query string
	Users []*service.User
	Next  string
}

// users lists accounts. The service shows administrators roles and state,
// anyone else the plain directory. The search is in the address: it names
// colleagues, never a memo.
func (h *handler) users(w http.ResponseWriter, r *http.Request, v *visit) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	page, err := h.svc.Directory(r.Context(), v.actor, q, r.URL.Query().Get("cursor"), 50)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.render(w, r, v, http.StatusOK, pageUsers, &view{Title: v.T("Users"), Data: usersData{Query: q, Users: page.Items, Next: page.NextCursor}})
}

// userData is the form for one account.
type userData struct {
	User  *service.User
	New   bool
	Roles []string
	Error *formError
	// Password is only kept on the new-user form.
	Password string
}

// HasRole reports whether the form's user holds role r.
func (d userData) HasRole(r string) bool { return d.User != nil && slices.Contains(d.User.Roles, r) }

// AllRoles lists the roles to choose from.
func (d userData) AllRoles() []string { return allRoles }

// findUser looks an account up by exact username through the directory.
func (h *handler) findUser(r *http.Request, v *visit, username string) (*service.User, error) {
	return h.svc.Account(r.Context(), v.actor, username)
}

func (h *handler) userPage(w http.ResponseWriter, r *http.Request, v *visit) {
	u, err := h.findUser(r, v, r.PathValue("username"))
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.render(w, r, v, http.StatusOK, pageUser, &view{Title: v.T("Account"), Data: userData{User: u}})
}

func (h *handler) updateUser(w http.ResponseWriter, r *http.Request, v *visit) {
	f := r.PostForm
	name, email := f.Get("display_name"), f.Get("email")
	roles := cleanNames(f["roles"])
	eligible, disabled := f.Get("eligible") == "on", f.Get("disabled") == "on"
	u, err := h.svc.UpdateUser(r.Context(), v.actor, r.PathValue("username"), service.UserUpdate{
		DisplayName: &name, Email: &email, Roles: &roles, Eligible: &eligible, Disabled: &disabled})
	if err == nil {
		redirect(w, r, "/admin/users/"+u.Username, flashUser)
		return
	}
	fe, ok := asFormError(v, err)
	if !ok {
		h.fail(w, r, v, err)
		return
	}
	d := userData{User: &service.User{Username: r.PathValue("username"), DisplayName: name, Email: email, Roles: roles, Eligible: &eligible, Disabled: disabled}, Error: fe}
	h.render(w, r, v, formStatus(err), pageUser, &view{Title: v.T("Account"), Data: d})
}

func (h *handler) resetPassword(w http.ResponseWriter, r *http.Request, v *visit) {
	username := r.PathValue("username")
	err := h.svc.ResetPassword(r.Context(), v.actor, username, r.PostForm.Get("password"))
	if err == nil {
		redirect(w, r, "/admin/users/"+username, flashReset)
		return
	}
	fe, ok := asFormError(v, err)
	if !ok {
		h.fail(w, r, v, err)
		return
	}
	u, ferr := h.findUser(r, v, username)
	if ferr != nil {
		h.fail(w, r, v, ferr)
		return
	}
	h.render(w, r, v, formStatus(err), pageUser, &view{Title: v.T("Account"), Data: userData{User: u, Error: fe}})
}

func (h *handler) newUserPage(w http.ResponseWriter, r *http.Request, v *visit) {
	el := true
	h.render(w, r, v, http.StatusOK, pageNewUser, &view{Title: v.T("New account"), Data: userData{New: true, User: &service.User{Roles: []string{"member"}, Eligible: &el}}})
}

func (h *handler) createUser(w http.ResponseWriter, r *http.Request, v *visit) {
	f := r.PostForm
	n := service.NewUser{Username: strings.TrimSpace(f.Get("username")), DisplayName: f.Get("display_name"), Email: f.Get("email"),
		Password: f.Get("password"), Roles: cleanNames(f["roles"]), Eligible: f.Get("eligible") == "on"}
	u, err := h.svc.CreateUser(r.Context(), v.actor, n)
	if err == nil {
		redirect(w, r, "/admin/users/"+u.Username, flashUser)
		return
	}
	fe, ok := asFormError(v, err)
	if !ok {
		h.fail(w, r, v, err)
		return
	}
	d := userData{New: true, User: &service.User{Username: n.Username, DisplayName: n.DisplayName, Email: n.Email, Roles: n.Roles, Eligible: &n.Eligible}, Error: fe}
	h.render(w, r, v, formStatus(err), pageNewUser, &view{Title: v.T("New account"), Data: d})
}

type distributionData struct {
	Usernames string
	// Awaiting are the principals whose keys the office has not confirmed.
	Awaiting []string
	Error    *formError
}

func (h *handler) distributionPage(w http.ResponseWriter, r *http.Request, v *visit) {
	d, err := h.svc.GetDistribution(r.Context(), v.actor)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.render(w, r, v, http.StatusOK, pageDistribution, &view{Title: v.T("Standing distribution"), Data: distributionData{Usernames: strings.Join(d.Usernames, "\n"), Awaiting: d.AwaitingConfirmation}})
}

func (h *handler) setDistribution(w http.ResponseWriter, r *http.Request, v *visit) {
	text := r.PostForm.Get("usernames")
	_, err := h.svc.SetDistribution(r.Context(), v.actor, service.Distribution{Usernames: splitNames(text)})
	if err == nil {
		redirect(w, r, "/admin/distribution", flashDistribution)
		return
	}
	fe, ok := asFormError(v, err)
	if !ok {
		h.fail(w, r, v, err)
		return
	}
	h.render(w, r, v, formStatus(err), pageDistribution, &view{Title: v.T("Standing distribution"), Data: distributionData{Usernames: text, Error: fe}})
}

// policyData is the deployment's profile and a year of its calendar.
type policyData struct {
	Profile          channel.Profile
	Year             int
	YearText         string
	Prev, Next       int
	Days             []holidayRow
	Zone             string
	DayStart, DayEnd string
	Workdays         int
}

type holidayRow struct {
	Date     string
	Name     string
	Observed bool
}

// policy shows the policy profile and the year's holidays and closures.
// None of it is secret (members may want to know how deadlines count), and
// it shows no memo.
func (h *handler) policy(w http.ResponseWriter, r *http.Request, v *visit) {
	cfg := h.svc.Config()
	year := h.yearParam(r)
	d := policyData{Profile: cfg.Profile, Year: year, YearText: strconv.Itoa(year), Prev: year - 1, Next: year + 1, Zone: h.loc.String()}
	start, end := cfg.Calendar.OfficeHours()
	d.DayStart, d.DayEnd = clock(start), clock(end)
	for _, hd := range cfg.Calendar.Holidays(year) {
		t := time.Date(hd.Date.Year, hd.Date.Month, hd.Date.Day, 12, 0, 0, 0, h.loc)
		d.Days = append(d.Days, holidayRow{Date: v.Date(t), Name: hd.Name, Observed: hd.Observed})
	}
	for t := time.Date(year, 1, 1, 12, 0, 0, 0, time.UTC); t.Year() == year; t = t.AddDate(0, 0, 1) {
		if cfg.Calendar.IsWorkday(workdays.DateOf(t)) {
			d.Workdays++
		}
	}
	h.render(w, r, v, http.StatusOK, pagePolicy, &view{Title: v.T("Policy and calendar"), Data: d})
}

// clock writes a time of day after midnight as 15:04.
func clock(d time.Duration) string {
	return time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Add(d).Format("15:04")
}
