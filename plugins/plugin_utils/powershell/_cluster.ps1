# Failover clusters: the node that owns a clustered VM.
# Shared functions: an operation is sent those it calls, each from its 'function Verb-Noun {' line to
# its closing '}' at the start of a line (docs/host-protocol.md, "Shared functions").

function Get-ClusterOwner {
    # The node that owns a clustered VM, through the cluster's "Virtual Machine" resource whose VmId
    # is the VM's id (Get-ClusterResource -VMId); the names of roles and resources can differ from
    # the VM's (SCVMM, renamed roles). FailoverClusters is optional (cluster nodes, RSAT) and can be
    # present without a running cluster: any failure means "no cluster information".
    param($VMId)
    if (-not (Get-Command -Name 'FailoverClusters\Get-ClusterResource' -ErrorAction SilentlyContinue)) { return $null }
    try {
        $resource = FailoverClusters\Get-ClusterResource -VMId $VMId -ErrorAction Stop | Select-Object -First 1
        if ($null -ne $resource) { return [string]$resource.OwnerNode.Name }
    } catch {
        return $null
    }
    $null
}

function Get-ClusterRoleOwner {
    # Without an id, a VM that is not on this host can only be recognised by its cluster role's name,
    # which is the VM's name unless someone (SCVMM, an administrator) named it otherwise.
    param([string]$Name)
    if (-not (Get-Command -Name 'FailoverClusters\Get-ClusterGroup' -ErrorAction SilentlyContinue)) { return $null }
    try {
        $group = FailoverClusters\Get-ClusterGroup -ErrorAction Stop |
            Where-Object { [string]$_.GroupType -eq 'VirtualMachine' -and (Test-SameName $_.Name $Name) } | Select-Object -First 1
        if ($null -ne $group) { return [string]$group.OwnerNode.Name }
    } catch {
        return $null
    }
    $null
}
