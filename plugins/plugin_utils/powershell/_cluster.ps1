# Failover clusters: the node that owns a clustered VM.
# Shared functions: an operation is sent those it calls, each from its 'function Verb-Noun {' line to
# its closing '}' at the start of a line (docs/host-protocol.md, "Shared functions").

function Get-ClusterOwner {
    # The node that owns a clustered VM, through the cluster's "Virtual Machine" resource whose VmId
    # is the VM's id (Get-ClusterResource -VMId); the names of roles and resources can differ from
    # the VM's (SCVMM, renamed roles). FailoverClusters is optional (cluster nodes, RSAT) and can be
    # present without a running cluster: a failure there means "no cluster information"; on a cluster
    # node it stops the operation (Stop-ClusterUnreadable).
    # $Known (New-ClusterOwnerTable, made by the operation script and passed down, never kept in a
    # variable of the session: a psrp runspace keeps those from one operation to the next) keeps the
    # answer for the operation's later records of the VM, and may hold it from Read-ClusterOwners'
    # listing already. Every operation asks anew: a VM that moved between two shows its new owner.
    param($VMId, [hashtable]$Known)
    if ($null -eq $Known) { $Known = New-ClusterOwnerTable }
    $key = ([string]$VMId).ToLowerInvariant()
    if ($Known.owners.ContainsKey($key)) { return $Known.owners[$key] }
    # A listing holds every "Virtual Machine" resource: an id that is not in it has none, which is what
    # Get-ClusterResource -VMId would have answered.
    if ($Known.listed) { return $null }
    $owner = $null
    if (Get-Command -Name 'FailoverClusters\Get-ClusterResource' -ErrorAction SilentlyContinue) {
        try {
            $resource = FailoverClusters\Get-ClusterResource -VMId $VMId -ErrorAction Stop | Select-Object -First 1
            if ($null -ne $resource) { $owner = [string]$resource.OwnerNode.Name }
        } catch {
            Stop-ClusterUnreadable -Record $_ -VM ([string]$VMId)
        }
    }
    $Known.owners[$key] = $owner
    $owner
}

function New-ClusterOwnerTable {
    # What an operation learns of the cluster's owners: {VM id: node, or $null without one}, whether
    # they came from a listing of every "Virtual Machine" resource (Read-ClusterOwners), and that
    # listing's VM roles (name and owner; $null when a role's name could not be read).
    @{ owners = @{}; listed = $false; roles = $null }
}

function Read-ClusterOwners {
    # The owners of the clustered VMs among $VMs (VMs this node lists), read with one listing when more
    # than one needs it (Get-ClusterOwnerListing), instead of one Get-ClusterResource -VMId per VM, each
    # of which searches the cluster's resources again. One VM is left to Get-ClusterOwner: its lookup
    # reads less than a listing. A listing that lacks one of these VMs is not used (a property it reads
    # may not be what community use says), and each VM is then asked for alone as before: a wrong guess
    # costs lookups, never a wrong owner.
    param([object[]]$VMs, [hashtable]$Known)
    if ($null -eq $Known) { return }
    $wanted = @{}
    foreach ($vm in $VMs) {
        $key = ([string]$vm.Id).ToLowerInvariant()
        if ($vm.IsClustered -and -not $Known.owners.ContainsKey($key)) { $wanted[$key] = [string]$vm.Name }
    }
    if ($Known.listed -or $wanted.Count -lt 2) { return }
    if (-not (Get-Command -Name 'FailoverClusters\Get-ClusterParameter' -ErrorAction SilentlyContinue)) { return }
    $listing = Get-ClusterOwnerListing -VM (@($wanted.Values) -join "', '")
    if ($listing -is [string]) {
        # 'unreadable' on a host that is no cluster node: no cluster information, which each VM's own
        # lookup would answer too.
        foreach ($key in @($wanted.Keys)) { $Known.owners[$key] = $null }
        return
    }
    if ($listing -isnot [hashtable]) { return }
    foreach ($key in @($wanted.Keys)) { if (-not $listing.owners.ContainsKey($key)) { return } }
    foreach ($key in @($listing.owners.Keys)) { $Known.owners[$key] = $listing.owners[$key] }
    $Known.listed = $true
    $Known.roles = $listing.roles
}

function Get-ClusterOwnerListing {
    # One listing of the cluster's "Virtual Machine" resources with their private property VmId
    # (Get-ClusterResource | Get-ClusterParameter -Name VmId, one pipeline): @{ owners = {VM id: owner
    # node}; roles = the resources' roles (OwnerGroup) with their owners, $null when a role's name could
    # not be read }. $null when an entry cannot be read (its ClusterObject, OwnerNode or Value: the
    # output's shape is community use, not on the cmdlets' pages); 'unreadable' when the cluster could
    # not be read on a host that is no cluster node (on one, Stop-ClusterUnreadable stops the operation).
    # $VM names the VMs it is read for, for that error.
    param([string]$VM)
    try {
        $resources = @(FailoverClusters\Get-ClusterResource -ErrorAction Stop | Where-Object {
            [string]$_.ResourceType -eq 'Virtual Machine' -or [string]$_.ResourceType.Name -eq 'Virtual Machine' })
        # Without input Get-ClusterParameter would read the cluster's own parameters.
        $parameters = @()
        if ($resources.Count -gt 0) { $parameters = @($resources | FailoverClusters\Get-ClusterParameter -Name 'VmId' -ErrorAction Stop) }
    } catch {
        Stop-ClusterUnreadable -Record $_ -VM $VM
        return 'unreadable'
    }
    $owners = @{}
    $roles = New-Object System.Collections.ArrayList
    foreach ($parameter in $parameters) {
        $resource = $null
        if ($parameter.PSObject.Properties['ClusterObject']) { $resource = $parameter.ClusterObject }
        $id = [guid]::Empty
        if ($null -eq $resource -or $null -eq $resource.OwnerNode -or -not [guid]::TryParse([string]$parameter.Value, [ref]$id)) { return $null }
        $owner = [string]$resource.OwnerNode.Name
        $owners[$id.ToString()] = $owner
        $role = $null
        if ($null -ne $resource.OwnerGroup) { $role = [string]$resource.OwnerGroup.Name }
        if ($null -ne $roles -and $role) { [void]$roles.Add(@{ name = $role; owner = $owner }) } else { $roles = $null }
    }
    @{ owners = $owners; roles = $roles }
}

function Get-ClusterRoleOwner {
    # Without an id, a VM that is not on this host can only be recognised by its cluster role's name,
    # which is the VM's name unless someone (SCVMM, an administrator) named it otherwise. The VM roles
    # (groups of type VirtualMachine) are listed once per operation and kept in $Known, so that more
    # names this node does not run cost no more; a listing Read-ClusterOwners read holds them already.
    param([string]$Name, [hashtable]$Known)
    if ($null -eq $Known) { $Known = New-ClusterOwnerTable }
    if ($null -eq $Known.roles) {
        if (-not (Get-Command -Name 'FailoverClusters\Get-ClusterGroup' -ErrorAction SilentlyContinue)) { return $null }
        try {
            $groups = @(FailoverClusters\Get-ClusterGroup -ErrorAction Stop)
        } catch {
            Stop-ClusterUnreadable -Record $_ -VM $Name
            # Not a cluster node: no cluster information, for this name and the next.
            $Known.roles = @()
            return $null
        }
        $Known.roles = @(foreach ($group in $groups) {
            if ([string]$group.GroupType -eq 'VirtualMachine') { @{ name = [string]$group.Name; owner = [string]$group.OwnerNode.Name } }
        })
    }
    foreach ($role in $Known.roles) { if (Test-SameName $role.name $Name) { return $role.owner } }
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
