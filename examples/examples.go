// Package examples holds the example templates, embedded so hearth templates init can scaffold
// from them with nothing but the binary.
package examples

import "embed"

// Templates is templates/NAME/... for each example template.
//
//go:embed templates
var Templates embed.FS
