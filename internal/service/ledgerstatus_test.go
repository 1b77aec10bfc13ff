package service_test

import (
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

func TestLedgerStatusAndSelfCheck(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	auditor := d.Create("audrey", false, "auditor")

	st, err := d.Svc.LedgerStatus(d.Ctx, auditor)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Verified || st.Size == 0 || st.CheckpointSize != st.Size || st.Origin != "dissent.test" || st.LastCheck != nil {
		t.Fatalf("status %+v", st)
	}
	if !strings.HasPrefix(st.Checkpoint, "dissent.test\n") {
		t.Errorf("checkpoint %q", st.Checkpoint)
	}

	check, err := d.Svc.CheckLedger(d.Ctx, auditor)
	if err != nil {
		t.Fatal(err)
	}
	if !check.OK || check.Problem != "" || check.Size < st.Size {
		t.Errorf("self-check %+v", check)
	}
	after, err := d.Svc.LedgerStatus(d.Ctx, auditor)
	if err != nil {
		t.Fatal(err)
	}
	if after.LastCheck == nil || !after.LastCheck.OK || !after.LastCheck.At.Equal(check.At) {
		t.Errorf("last check %+v, want %+v", after.LastCheck, check)
	}
	if after.Size <= st.Size {
		t.Error("the self-check left no audit event")
	}

	// Administrators see the status; only auditors run the check; members neither.
	if _, err := d.Svc.LedgerStatus(d.Ctx, d.Admin); err != nil {
		t.Errorf("admin: %v", err)
	}
	if _, err := d.Svc.CheckLedger(d.Ctx, d.Admin); channel.ErrorCode(err) != channel.EFORBIDDEN {
		t.Errorf("admin self-check: %v", err)
	}
	member := d.Member("mia")
	if _, err := d.Svc.LedgerStatus(d.Ctx, member); channel.ErrorCode(err) != channel.EFORBIDDEN {
		t.Errorf("member: %v", err)
	}
}
