// Package mapping names the upstream Terraform resources the way the pulumi_random Python SDK
// addresses them. The provider binary and the schema generator share it, so the schema the
// build generates is exactly what the binary serves.
package mapping

import (
	"context"

	pftfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"github.com/terraform-providers/terraform-provider-random/shim"
)

// Version is the version the provider reports: the engine build sets the one the Python SDK
// requests (the bridge refuses an empty or non-semver version).
var Version string

// Every resource of pulumi_random 4.21.4, under its SDK token.
var resourceTokens = map[string]tokens.Type{
	"random_bytes":    "random:index/randomBytes:RandomBytes",
	"random_id":       "random:index/randomId:RandomId",
	"random_integer":  "random:index/randomInteger:RandomInteger",
	"random_password": "random:index/randomPassword:RandomPassword",
	"random_pet":      "random:index/randomPet:RandomPet",
	"random_shuffle":  "random:index/randomShuffle:RandomShuffle",
	"random_string":   "random:index/randomString:RandomString",
	"random_uuid":     "random:index/randomUuid:RandomUuid",
	"random_uuid4":    "random:index/randomUuid4:RandomUuid4",
	"random_uuid7":    "random:index/randomUuid7:RandomUuid7",
}

// Provider is the bridge's view of the provider; metadata is the bridge metadata the schema
// generator wrote (nil while generating it).
func Provider(metadata []byte) tfbridge.ProviderInfo {
	resources := make(map[string]*tfbridge.ResourceInfo, len(resourceTokens))
	for name, token := range resourceTokens {
		resources[name] = &tfbridge.ResourceInfo{Tok: token}
	}
	// random_bytes has no "id" attribute, and its only natural identity (the bytes) is a secret
	// that a resource ID would publish in plain state.
	resources["random_bytes"].ComputeID = fixedID
	return tfbridge.ProviderInfo{
		P:            pftfbridge.ShimProvider(shim.NewProvider()),
		Name:         "random",
		Version:      Version,
		Description:  "Randomness for Pulumi programs, bridged from the Terraform random provider.",
		License:      "MPL-2.0",
		GitHubOrg:    "hashicorp",
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
		Resources:    resources,
	}
}

func fixedID(context.Context, resource.PropertyMap) (resource.ID, error) {
	return resource.ID(tfbridge.MissingIDPlaceholder), nil
}
