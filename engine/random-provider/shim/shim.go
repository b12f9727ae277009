// Package shim hands the upstream framework provider to the bridge. Go lets only packages inside
// the upstream module's import path reach its internal/provider, hence this module's path.
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"

	upstream "github.com/terraform-providers/terraform-provider-random/internal/provider"
)

func NewProvider() provider.Provider {
	return upstream.New()
}
