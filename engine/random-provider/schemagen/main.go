// The schema generator the engine build runs before building the provider: it writes
// schema.json and bridge-metadata.json, which main.go embeds.
package main

import (
	pftfgen "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"

	"driftless.invalid/engine/random-provider/mapping"
)

func main() {
	pftfgen.Main("random", mapping.Provider(nil))
}
