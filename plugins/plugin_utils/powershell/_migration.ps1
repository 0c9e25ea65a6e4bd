# A VM in the middle of a live migration: how the runner reports a change that failed because of it.
# Shared functions: an operation is sent those it calls, each from its 'function Verb-Noun {' line to
# its closing '}' at the start of a line (docs/host-protocol.md, "Shared functions").

function Get-ReplyFailure {
    # The code and details of the runner's failure reply for error $Record of an operation with $Params:
    # Get-ErrorCode's, unless a live migration of the operation's VM explains it (Get-MigrationFailure).
    param($Record, $Params)
    $failure = Get-ErrorCode $Record
    # No params when the request itself could not be read.
    $vmId = ''
    if ($Params -is [System.Collections.IDictionary]) { $vmId = [string]$Params['VMId'] }
    Get-MigrationFailure -Failure $failure -Record $Record -VMId $vmId
}

function Get-MigrationFailure {
    # The runner's $Failure for error $Record, or 'migrating' when a change to VM $VMId failed because the
    # cluster is live-migrating it: the VM is in use or in an invalid state (which of the two Hyper-V
    # gives is not documented: the WMI methods list 32774 "in use" and 32775 "invalid state") and its
    # secondary status is MigratingVirtualMachine (reference section 3). The controller waits, then
    # follows the VM to its new node.
    param($Failure, $Record, [string]$VMId)
    $id = Get-ErrorId -Record $Record
    $guid = [guid]::Empty
    if (-not [guid]::TryParse($VMId, [ref]$guid) -or ($id -ne 'ObjectInUse' -and $id -ne 'InvalidState')) { return $Failure }
    $vm = $null
    try { $vm = Hyper-V\Get-VM -Id $guid -ErrorAction Stop } catch { return $Failure }
    if ($null -eq $vm -or [string]$vm.SecondaryOperationalStatus -ne 'MigratingVirtualMachine') { return $Failure }
    # No owner node: the cluster names the one it moves to once the migration ended (owned_by_other_node),
    # and every request carries these functions.
    $details = [ordered]@{ vm = [string]$vm.Name; secondary_status = 'MigratingVirtualMachine' }
    if ($Failure.details -is [System.Collections.IDictionary]) {
        foreach ($key in @($Failure.details.Keys)) { $details[$key] = $Failure.details[$key] }
    }
    [ordered]@{ code = 'migrating'; details = $details }
}
