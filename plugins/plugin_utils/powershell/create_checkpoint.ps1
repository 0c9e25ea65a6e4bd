param([string]$VMId, [string]$Name, [string]$CheckpointType, [long]$MinFreeBytes, [int]$CheckpointLimit)

# The VM-wide checkpoint type is switched for one checkpoint only when the VM's own setting cannot give
# the kind asked for, and a marker file records the type to put back, so that a killed run is repaired
# by the next one (Get-TypeOverride). $TypeSwitch, which the functions below share, holds that marker
# (opened only when the type must change), the type to put back and whether the type changed.

function Test-ProductionFailure {
    # Whether a ProductionOnly Checkpoint-VM failed because no production checkpoint can be made: the
    # guest could not make one (the failed CreateSnapshot job shows as OperationFailed; the probe records
    # the id on a real host), or the VM is Saved or Paused, a state that never allows one (decompiled
    # IsProductionSnapshotAvailable) and answers InvalidState (32775, decompiled ExceptionHelper). That
    # InvalidState does not clear by waiting: it is no reason to retry (busy). ObjectInUse, an InvalidState
    # of a VM that runs, OperationTimeout, AccessDenied and the rest are other failures, never a reason to
    # take a standard checkpoint; an Off VM needs no guest at all.
    param($Record, $VM)
    $id = Get-ErrorId -Record $Record
    ($id -eq 'OperationFailed' -and $VM.state -ne 'Off') -or ($id -eq 'InvalidState' -and @('Saved', 'Paused') -contains $VM.state)
}

function New-NamedCheckpoint {
    # Checkpoint-VM takes the checkpoint under Hyper-V's default name and only then renames it (two
    # steps, decompiled CheckpointVM). When the cmdlet fails after the first step, the checkpoint
    # exists under the default name: the one user checkpoint made since the attempt began is renamed.
    # $ListedAt: when $KnownIds were listed; the list is read anew before it is searched for the new one.
    param($VM, [string]$Name, [string[]]$KnownIds, [DateTime]$ListedAt)
    $started = [DateTime]::UtcNow.AddSeconds(-2)
    try {
        $snapshot = Hyper-V\Checkpoint-VM -VM $VM -SnapshotName $Name -Passthru
        return [ordered]@{ snapshot = $snapshot; name_repaired = $false }
    } catch {
        $failure = $_
        # In use: the VM refused to start the checkpoint, nothing was made (and nothing to wait for).
        if ((Get-ErrorId -Record $failure) -eq 'ObjectInUse') { throw $failure }
        $null = Wait-CheckpointListRead -ListedAt $ListedAt
        $made = @(Hyper-V\Get-VMSnapshot -VM $VM | Where-Object {
            $KnownIds -notcontains [string]$_.Id -and [string]$_.SnapshotType -eq 'Standard' -and
            -not ($_.PSObject.Properties['IsAutomaticCheckpoint'] -and $_.IsAutomaticCheckpoint) -and
            $_.CreationTime.ToUniversalTime() -ge $started })
        if ($made.Count -ne 1) { throw $failure }
        try {
            $null = Hyper-V\Rename-VMSnapshot -VMSnapshot $made[0] -NewName $Name
        } catch {
            # A name the host cannot set: no checkpoint under the default name is left behind.
            try { $null = Hyper-V\Remove-VMSnapshot -VMSnapshot $made[0] -Confirm:$false } catch { $made = @() }
            throw $failure
        }
        return [ordered]@{ snapshot = (Find-Checkpoint -VM $VM -Id ([string]$made[0].Id) -MustExist); name_repaired = $true }
    }
}

function Repair-CheckpointType {
    # A type left switched by a killed run is put back first; returns it ($null: none was left). A
    # failed repair leaves the marker as it is, for the next run.
    param($VM, $TypeSwitch)
    if ($null -eq (Get-TypeOverride -VMId $VM.Id)) { return $null }
    $TypeSwitch.marker = Open-TypeOverride -VM $VM
    $repaired = Read-TypeOverride -Marker $TypeSwitch.marker
    if ($repaired) {
        $null = Hyper-V\Set-VM -VM $VM -CheckpointType $repaired
        $null = Write-TypeOverride -Marker $TypeSwitch.marker -Type ''
    }
    $repaired
}

function Assert-CanCreate {
    # The refusals that need no change: checkpoints disabled, the limit, too little free space.
    param($VM, $Before, [int]$Count, [int]$Limit, [long]$MinFreeBytes)
    # A requested type never overrides an administrator's Disabled.
    if ($Before.checkpoint_type -eq 'Disabled') {
        $message = "Checkpoints are disabled for VM '{0}'" -f $VM.Name
        Stop-Operation -Code 'checkpoints_disabled' -Message $message -Details ([ordered]@{ vm = [string]$VM.Name })
    }
    # Hyper-V's limit counts every checkpoint of the VM, whatever made it.
    if ($Count -ge $Limit) {
        $message = "VM '{0}' already has {1} checkpoints, the Hyper-V maximum is {2}" -f $VM.Name, $Count, $Limit
        Stop-Operation -Code 'limit_reached' -Message $message -Details ([ordered]@{ vm = [string]$VM.Name; count = $Count; limit = $Limit })
    }
    $null = Stop-LowDiskSpace -VM $VM -Volumes $Before.volumes -MinFreeBytes $MinFreeBytes
}

function Get-SwitchTarget {
    # The VM-wide type a checkpoint of kind $Requested needs while $InEffect is set; $null: none.
    param([string]$Requested, [string]$InEffect)
    if ($Requested -eq 'Standard' -and $InEffect -ne 'Standard') { return 'Standard' }
    if ($Requested -eq 'ProductionOnly' -and $InEffect -ne 'ProductionOnly') { return 'ProductionOnly' }
    if ($Requested -eq 'Production' -and $InEffect -eq 'Standard') { return 'Production' }
    $null
}

function Switch-CheckpointType {
    # The marker first: a run killed right after Set-VM must leave the type to put back.
    param($VM, $TypeSwitch, [string]$To)
    if ($null -eq $TypeSwitch.marker) { $TypeSwitch.marker = Open-TypeOverride -VM $VM }
    $null = Write-TypeOverride -Marker $TypeSwitch.marker -Type $TypeSwitch.original
    $null = Hyper-V\Set-VM -VM $VM -CheckpointType $To
    $TypeSwitch.changed = $true
}

function New-TypedCheckpoint {
    # Takes the checkpoint $Asked describes, with the type switched when $InEffect cannot give it:
    # [ordered]@{ made (New-NamedCheckpoint); in_effect (the type set when it was taken); fell_back }.
    param($VM, $Before, $TypeSwitch, $Asked, [string]$InEffect)
    $switchTo = Get-SwitchTarget -Requested $Asked.requested -InEffect $InEffect
    if ($switchTo) {
        $null = Switch-CheckpointType -VM $VM -TypeSwitch $TypeSwitch -To $switchTo
        $InEffect = $switchTo
    }
    try {
        $made = New-NamedCheckpoint -VM $VM -Name $Asked.name -KnownIds $Asked.known_ids -ListedAt $Asked.listed_at
    } catch {
        return (Resolve-FailedCheckpoint -Failure $_ -VM $VM -Before $Before -TypeSwitch $TypeSwitch -Asked $Asked -InEffect $InEffect)
    }
    [ordered]@{ made = $made; in_effect = $InEffect; fell_back = $false }
}

function Resolve-FailedCheckpoint {
    # After Checkpoint-VM failed: low_disk_space when a volume filled meanwhile. When the guest could
    # not make a production checkpoint under ProductionOnly: production_checkpoint_failed if that was
    # asked for; if Production was, the VM's own ProductionOnly was tried and Standard is the
    # fallback. Any other failure is the operation's.
    param($Failure, $VM, $Before, $TypeSwitch, $Asked, [string]$InEffect)
    $null = Stop-LowDiskSpace -VM $VM -Volumes @(Get-VMVolumes -VM $VM) -MinFreeBytes $Asked.min_free_bytes
    if ($InEffect -ne 'ProductionOnly' -or -not (Test-ProductionFailure -Record $Failure -VM $Before)) { throw $Failure }
    if ($Asked.requested -eq 'ProductionOnly') {
        Stop-Operation -Code 'production_checkpoint_failed' -Message $Failure.Exception.Message -Details ([ordered]@{
            vm = [string]$VM.Name; exception_type = $Failure.Exception.GetType().FullName
            fully_qualified_error_id = [string]$Failure.FullyQualifiedErrorId })
    }
    $null = Switch-CheckpointType -VM $VM -TypeSwitch $TypeSwitch -To 'Standard'
    $made = New-NamedCheckpoint -VM $VM -Name $Asked.name -KnownIds $Asked.known_ids -ListedAt $Asked.listed_at
    [ordered]@{ made = $made; in_effect = 'Standard'; fell_back = $true }
}

function Set-OriginalType {
    # Returns why the VM's own type could not be set again ($null: it was). That failure must not hide
    # the creation's own error; the marker then keeps the type, and the next create puts it back.
    param($VM, $TypeSwitch)
    try {
        $null = Hyper-V\Set-VM -VM $VM -CheckpointType $TypeSwitch.original
        $null = Write-TypeOverride -Marker $TypeSwitch.marker -Type ''
    } catch {
        return $_.Exception.Message
    }
    $null
}

function Restore-CheckpointType {
    # After the checkpoint, or a failure: the VM's own type back and the marker released. Returns why
    # the type could not be put back ($null: it was, or it never changed).
    param($VM, $TypeSwitch)
    $failure = $null
    try {
        if ($TypeSwitch.changed) {
            $failure = Set-OriginalType -VM $VM -TypeSwitch $TypeSwitch
        } else {
            # No switch, or Set-VM refused it (InvalidState, busy): the type never changed.
            $null = Write-TypeOverride -Marker $TypeSwitch.marker -Type ''
        }
    } finally {
        $null = Close-TypeOverride -Marker $TypeSwitch.marker -VMId $VM.Id
    }
    $failure
}

if ($CheckpointType -and @('Standard', 'Production', 'ProductionOnly') -notcontains $CheckpointType) {
    Stop-Operation -Code 'invalid_request' -Message ("Unknown checkpoint type '{0}'" -f $CheckpointType)
}
# The controller sends Hyper-V's limit; without it (0) every create would be refused.
if ($CheckpointLimit -lt 1) {
    Stop-Operation -Code 'invalid_request' -Message ("CheckpointLimit must be at least 1, not {0}" -f $CheckpointLimit)
}
$vm = Get-TargetVM -Id $VMId
$features = Get-HostFeatures
# Hosts without checkpoint types (2012 R2) take standard checkpoints only.
$hasTypes = $features.checkpoint_type
if ($CheckpointType -and -not $hasTypes) { Stop-Unsupported -Setting 'checkpoint_type' }

$typeSwitch = [ordered]@{ marker = $null; original = $null; changed = $false }
$repaired = $null
if ($hasTypes) { $repaired = Repair-CheckpointType -VM $vm -TypeSwitch $typeSwitch }
if ($repaired) { $vm = Get-TargetVM -Id $VMId }
$typeRestoreError = $null
# A clustered VM's owner, asked of the cluster once for both of its records (before and after).
$owners = New-ClusterOwnerTable
try {
    $volumeTable = Get-VolumeTable
    $listedAt = [DateTime]::UtcNow
    $snapshots = @(Hyper-V\Get-VMSnapshot -VM $vm)
    $before = ConvertTo-VMRecord -VM $vm -Snapshots $snapshots -Features $features -VolumeTable $volumeTable -Owners $owners
    $null = Assert-CanCreate -VM $vm -Before $before -Count $snapshots.Count -Limit $CheckpointLimit -MinFreeBytes $MinFreeBytes
    $typeSwitch.original = $before.checkpoint_type
    $requested = 'Standard'
    if ($CheckpointType) { $requested = $CheckpointType } elseif ($hasTypes) { $requested = $typeSwitch.original }
    $inEffect = 'Standard'
    if ($hasTypes) { $inEffect = $typeSwitch.original }
    $asked = [ordered]@{ name = $Name; requested = $requested; min_free_bytes = $MinFreeBytes; listed_at = $listedAt
        known_ids = @(foreach ($snapshot in $snapshots) { [string]$snapshot.Id }) }
    $taken = New-TypedCheckpoint -VM $vm -Before $before -TypeSwitch $typeSwitch -Asked $asked -InEffect $inEffect
} finally {
    $typeRestoreError = Restore-CheckpointType -VM $vm -TypeSwitch $typeSwitch
}

# Which kind Hyper-V took: a checkpoint with a saved memory state is a standard one; without, it is a
# production one when a production type was in effect (the VM's Production falls back by itself).
$made = $taken.made
$inEffect = $taken.in_effect
$fellBack = [bool]$taken.fell_back
$snapshot = $made.snapshot
$hasMemory = $snapshot.State.ToString() -eq 'Saved'
$takenType = 'standard'
if (-not $hasMemory -and ($inEffect -eq 'Production' -or $inEffect -eq 'ProductionOnly')) { $takenType = 'production' }
if ($hasMemory -and $inEffect -eq 'Production' -and $before.state -ne 'Off') { $fellBack = $true }
$vm = Get-TargetVM -Id $VMId
# The VM with its checkpoints as they are right after this one was taken (as get_vms lists them), for the
# module's result and diff. The list read before is still cached and misses the new one; another run's
# checkpoint can be missing too, which is why the role's lock check reads the VM again (_safe_change_steps).
$snapshots = @(Get-CheckpointList -VM $vm -Taken @($snapshot))
$vmRecord = ConvertTo-VMRecord -VM $vm -Snapshots $snapshots -Features $features -VolumeTable $volumeTable -Owners $owners
$vmRecord['checkpoints'] = @(foreach ($listed in $snapshots) { ConvertTo-CheckpointRecord -Snapshot $listed -Features $features })
[ordered]@{
    checkpoint = (ConvertTo-CheckpointRecord -Snapshot $snapshot -Features $features)
    taken_type = $takenType
    fell_back = $fellBack
    type_restore_error = $typeRestoreError
    name_repaired = $made.name_repaired
    type_override_repaired = $repaired
    vm = $vmRecord
}
