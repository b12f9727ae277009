// The tls resource provider: the upstream Terraform provider served through the Pulumi
// Terraform bridge. The engine build runs ./schemagen first, which writes the two embedded files.
package main

import (
	"context"
	_ "embed"

	pftfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"

	"driftless.invalid/engine/tls-provider/mapping"
)

//go:embed schema.json
var packageSchema []byte

//go:embed bridge-metadata.json
var bridgeMetadata []byte

func main() {
	meta := pftfbridge.ProviderMetadata{PackageSchema: packageSchema}
	pftfbridge.Main(context.Background(), "tls", mapping.Provider(bridgeMetadata), meta)
}
