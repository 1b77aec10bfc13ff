package api

import (
	"net/http"
	"strconv"

	"github.com/dissent-channel/dissent/internal/service"
)

// Bodies of the notification, jobs and figures routes.
type (
	unreadResponse struct {
		Unread int `json:"unread"`
	}
	markReadRequest struct {
		Seq int64 `json:"seq"`
	}
	jobsResponse struct {
		Items []service.JobStatus `json:"items"`
	}
)

// statsCSV answers a year's figures as CSV, the same cells as the JSON.
func (h *handler) statsCSV(w http.ResponseWriter, r *http.Request, a *service.Actor) {
	y, err := intParam(r, "year")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	st, err := h.svc.YearStats(r.Context(), a, int(y))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="dissent-figures-`+strconv.Itoa(st.Year)+`.csv"`)
	if err := st.WriteCSV(w); err != nil {
		h.opt.Log.Error("writing figures", "error", err)
	}
}
