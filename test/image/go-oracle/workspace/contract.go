// Package workspace holds the contract's shape as shared/memoh-current.md §3 gives it, named as in Memoh so
// that Go's own error texts (which name the type) come out the same.
package workspace

type WorkspaceContract struct {
	ContractVersion int                       `json:"contract_version"`
	Platform        WorkspaceContractPlatform `json:"platform"`
	Paths           WorkspaceContractPaths    `json:"paths"`
}

type WorkspaceContractPlatform struct {
	OS   string `json:"os"`
	Libc string `json:"libc"`
}

type WorkspaceContractPaths struct {
	Toolkit string `json:"toolkit"`
	Scripts string `json:"scripts"`
}
