// Package mapping names the upstream Terraform resources and data sources the way the pulumi_tls
// Python SDK addresses them. The provider binary and the schema generator share it, so the
// schema the build generates is exactly what the binary serves.
package mapping

import (
	pftfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	"github.com/hashicorp/terraform-provider-tls/shim"
)

// Version is the version the provider reports: the engine build sets the one the Python SDK
// requests (the bridge refuses an empty or non-semver version).
var Version string

// Provider is the bridge's view of the provider; metadata is the bridge metadata the schema
// generator wrote (nil while generating it). Every resource and function of pulumi_tls 5.6.2.
func Provider(metadata []byte) tfbridge.ProviderInfo {
	return tfbridge.ProviderInfo{
		P:            pftfbridge.ShimProvider(shim.NewProvider()),
		Name:         "tls",
		Version:      Version,
		Description:  "TLS keys and certificates for Pulumi programs, bridged from the Terraform tls provider.",
		License:      "MPL-2.0",
		GitHubOrg:    "hashicorp",
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
		Resources: map[string]*tfbridge.ResourceInfo{
			"tls_cert_request":        {Tok: "tls:index/certRequest:CertRequest"},
			"tls_locally_signed_cert": {Tok: "tls:index/locallySignedCert:LocallySignedCert"},
			"tls_private_key":         {Tok: "tls:index/privateKey:PrivateKey"},
			"tls_self_signed_cert":    {Tok: "tls:index/selfSignedCert:SelfSignedCert"},
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"tls_certificate": {Tok: "tls:index/getCertificate:getCertificate"},
			"tls_public_key":  {Tok: "tls:index/getPublicKey:getPublicKey"},
		},
	}
}
