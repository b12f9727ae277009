// The Kubernetes resource provider, served from the module's own packages. The upstream main
// embeds a schema file that only its code generator writes, so driftless's engine build writes
// schema-embed.json and terraform-mapping-embed.json next to this file before `go build`.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var packageSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, packageSchema, terraformMapping)
}
