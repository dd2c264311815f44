package template

import (
	"maps"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hearthdev/hearth/internal/archive"
	"github.com/hearthdev/hearth/internal/coderprovider"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
)

// scanSource reads what an uploaded template asks of the coder provider before Terraform runs; with
// strict, a source using anything Hearth does not honour is refused, each use named.
func scanSource(f dbsqlc.File, strict bool) (coderprovider.Source, error) {
	files, err := archive.Read(f.Data, f.ContentType, coderprovider.IsSource)
	if err != nil {
		return coderprovider.Source{}, huma.Error422UnprocessableEntity(err.Error()+"; upload a tar or zip of the template's directory.",
			&huma.ErrorDetail{Location: "body.file_id", Message: "invalid archive"})
	}
	src := coderprovider.Scan(files)
	if strict && len(src.Warnings) > 0 {
		details := make([]error, len(src.Warnings))
		for i, w := range src.Warnings {
			details[i] = &huma.ErrorDetail{Message: w.String()}
		}
		return src, huma.Error422UnprocessableEntity("The template uses what Hearth does not honour (strict): change or remove each construct listed, or push without strict to accept the differences.", details...)
	}
	return src, nil
}

// importTags are the tags an import job is routed by: the version's, and the literal workspace tags
// of its source, so the import runs where its builds will.
func importTags(tags map[string]string, src coderprovider.Source) map[string]string {
	out := map[string]string{}
	maps.Copy(out, tags)
	for _, t := range src.WorkspaceTags {
		if t.Parameter == "" {
			out[t.Key] = t.Value
		}
	}
	return out
}
