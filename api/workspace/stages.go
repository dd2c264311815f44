package workspace

import (
	"context"
	"time"

	"github.com/hearthdev/hearth/internal/db/dbsqlc"
)

// Stage is how long one stage of a build took, measured by its log lines: it began with its first line
// and ended when the next stage began (the last stage: when the build completed, or at its latest
// line while it runs).
type Stage struct {
	Stage     string    `json:"stage" enum:"setup,init,plan,apply,cleanup"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at"`
	Seconds   float64   `json:"seconds" doc:"ended_at minus started_at."`
}

// withStages fills the stages of builds, from one query for all of them.
func (h handlers) withStages(ctx context.Context, builds []Build) error {
	var jobs []int64
	for _, b := range builds {
		if b.JobID != nil {
			jobs = append(jobs, *b.JobID)
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	rows, err := h.DB.ListJobStages(ctx, jobs)
	if err != nil {
		return err
	}
	byJob := map[int64][]dbsqlc.ListJobStagesRow{}
	for _, r := range rows {
		byJob[r.JobID] = append(byJob[r.JobID], r)
	}
	for i, b := range builds {
		if b.JobID != nil {
			builds[i].Stages = stages(byJob[*b.JobID], b.CompletedAt)
		}
	}
	return nil
}

func stages(rows []dbsqlc.ListJobStagesRow, completed *time.Time) []Stage {
	out := make([]Stage, 0, len(rows))
	for i, r := range rows {
		end := r.LastAt
		switch {
		case i+1 < len(rows):
			end = rows[i+1].FirstAt
		case completed != nil && completed.After(end):
			end = *completed
		}
		out = append(out, Stage{Stage: r.Stage, StartedAt: r.FirstAt, EndedAt: end, Seconds: end.Sub(r.FirstAt).Seconds()})
	}
	return out
}
