# Failover clusters: the node that owns a clustered VM.
# Shared functions: an operation is sent those it calls, each from its 'function Verb-Noun {' line to
# its closing '}' at the start of a line (docs/host-protocol.md, "Shared functions").

function Get-ClusterOwner {
    # The node that owns a clustered VM, through the cluster's "Virtual Machine" resource whose VmId
    # is the VM's id (Get-ClusterResource -VMId); the names of roles and resources can differ from
    # the VM's (SCVMM, renamed roles). FailoverClusters is optional (cluster nodes, RSAT) and can be
    # present without a running cluster: a failure there means "no cluster information"; on a cluster
    # node it stops the operation (Stop-ClusterUnreadable).
    param($VMId)
    if (-not (Get-Command -Name 'FailoverClusters\Get-ClusterResource' -ErrorAction SilentlyContinue)) { return $null }
    try {
        $resource = FailoverClusters\Get-ClusterResource -VMId $VMId -ErrorAction Stop | Select-Object -First 1
        if ($null -ne $resource) { return [string]$resource.OwnerNode.Name }
    } catch {
        Stop-ClusterUnreadable -Record $_ -VM ([string]$VMId)
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
        Stop-ClusterUnreadable -Record $_ -VM $Name
        return $null
    }
    $null
}

function Test-ClusterNode {
    # Whether this host is a node of a running failover cluster: its cluster service runs. Read without
    # the cluster's own rights, so that it holds for a user who may not read the cluster.
    $service = Get-Service -Name 'ClusSvc' -ErrorAction SilentlyContinue
    ($null -ne $service -and [string]$service.Status -eq 'Running')
}

function Stop-ClusterUnreadable {
    # A failure to read the cluster ($Record) while looking for VM $VM: on a cluster node the operation
    # stops with cluster_unreadable and the cluster's own error (a user without rights on the cluster
    # would otherwise be told that the VM does not exist); elsewhere it returns, "no cluster information".
    param($Record, [string]$VM)
    if (-not (Test-ClusterNode)) { return }
    $message = "The failover cluster could not be read on host {0} while looking for VM '{1}': {2}" -f @(
        $env:COMPUTERNAME, $VM, $Record.Exception.Message)
    Stop-Operation -Code 'cluster_unreadable' -Message $message -Details ([ordered]@{
        vm = $VM; computer_name = $env:COMPUTERNAME; exception_type = $Record.Exception.GetType().FullName
        fully_qualified_error_id = [string]$Record.FullyQualifiedErrorId; category = [string]$Record.CategoryInfo.Category })
}
