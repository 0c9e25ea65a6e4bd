param([string]$VMId, [string]$Name, [string]$CheckpointType, [long]$MinFreeBytes)

function Test-ProductionFailure {
    # Whether a ProductionOnly Checkpoint-VM failed because the guest could not make a production
    # checkpoint: the failed CreateSnapshot job shows as OperationFailed (the probe records the id on
    # a real host). ObjectInUse, InvalidState, OperationTimeout, AccessDenied and the rest are other
    # failures, never a reason to take a standard checkpoint; an Off VM needs no guest at all.
    param($Record, $VM)
    (Get-ErrorId -Record $Record) -eq 'OperationFailed' -and $VM.state -ne 'Off'
}

function New-NamedCheckpoint {
    # Checkpoint-VM takes the checkpoint under Hyper-V's default name and only then renames it (two
    # steps, decompiled CheckpointVM). When the cmdlet fails after the first step, the checkpoint
    # exists under the default name: the one user checkpoint made since the attempt began is renamed.
    param($VM, [string]$Name, [string[]]$KnownIds)
    $started = [DateTime]::UtcNow.AddSeconds(-2)
    try {
        $snapshot = Hyper-V\Checkpoint-VM -VM $VM -SnapshotName $Name -Passthru
        return [ordered]@{ snapshot = $snapshot; name_repaired = $false }
    } catch {
        $failure = $_
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

if ($CheckpointType -and @('Standard', 'Production', 'ProductionOnly') -notcontains $CheckpointType) {
    Stop-Operation -Code 'invalid_request' -Message ("Unknown checkpoint type '{0}'" -f $CheckpointType)
}
$vm = Get-TargetVM -Id $VMId
# Hosts without checkpoint types (2012 R2) take standard checkpoints only.
$hasTypes = Test-SetVMParameter -Name 'CheckpointType'
if ($CheckpointType -and -not $hasTypes) { Stop-Unsupported -Setting 'checkpoint_type' }

# The VM-wide type is switched for one checkpoint only when its own setting cannot give the kind
# asked for, and a marker file records the type to put back, so that a killed run is repaired by
# the next one (Get-TypeOverride). A type left switched by a killed run is put back first.
$repaired = $null
$marker = $null
if ($hasTypes -and $null -ne (Get-TypeOverride -VMId $vm.Id)) {
    $marker = Open-TypeOverride -VM $vm
    $repaired = Read-TypeOverride -Marker $marker
    if ($repaired) {
        $null = Hyper-V\Set-VM -VM $vm -CheckpointType $repaired
        $null = Write-TypeOverride -Marker $marker -Type ''
        $vm = Get-TargetVM -Id $VMId
    }
}
try {
    $snapshots = @(Hyper-V\Get-VMSnapshot -VM $vm)
    $before = ConvertTo-VMRecord -VM $vm -Snapshots $snapshots
    $original = $before.checkpoint_type
    # A requested type never overrides an administrator's Disabled.
    if ($original -eq 'Disabled') {
        $message = "Checkpoints are disabled for VM '{0}'" -f $vm.Name
        Stop-Operation -Code 'checkpoints_disabled' -Message $message -Details ([ordered]@{ vm = [string]$vm.Name })
    }
    # Hyper-V's limit of 50 counts every checkpoint of the VM, whatever made it.
    if ($snapshots.Count -ge 50) {
        $message = "VM '{0}' already has {1} checkpoints, the Hyper-V maximum is 50" -f $vm.Name, $snapshots.Count
        Stop-Operation -Code 'limit_reached' -Message $message -Details ([ordered]@{ vm = [string]$vm.Name; count = $snapshots.Count; limit = 50 })
    }
    $null = Stop-LowDiskSpace -VM $vm -Volumes $before.volumes -MinFreeBytes $MinFreeBytes
    $requested = 'Standard'
    if ($CheckpointType) { $requested = $CheckpointType } elseif ($hasTypes) { $requested = $original }
    $inEffect = 'Standard'
    if ($hasTypes) { $inEffect = $original }
    $switchTo = $null
    if ($requested -eq 'Standard' -and $inEffect -ne 'Standard') { $switchTo = 'Standard' }
    elseif ($requested -eq 'ProductionOnly' -and $inEffect -ne 'ProductionOnly') { $switchTo = 'ProductionOnly' }
    elseif ($requested -eq 'Production' -and $inEffect -eq 'Standard') { $switchTo = 'Production' }

    $knownIds = @(foreach ($snapshot in $snapshots) { [string]$snapshot.Id })
    $typeChanged = $false
    $typeRestoreError = $null
    $fellBack = $false
    try {
        if ($switchTo) {
            # The marker first: a run killed right after Set-VM must leave the type to put back.
            if ($null -eq $marker) { $marker = Open-TypeOverride -VM $vm }
            $null = Write-TypeOverride -Marker $marker -Type $original
            $null = Hyper-V\Set-VM -VM $vm -CheckpointType $switchTo
            $typeChanged = $true
            $inEffect = $switchTo
        }
        try {
            $made = New-NamedCheckpoint -VM $vm -Name $Name -KnownIds $knownIds
        } catch {
            $failure = $_
            $null = Stop-LowDiskSpace -VM $vm -Volumes @(Get-VMVolumes -VM $vm) -MinFreeBytes $MinFreeBytes
            if ($inEffect -ne 'ProductionOnly' -or -not (Test-ProductionFailure -Record $failure -VM $before)) { throw $failure }
            if ($requested -eq 'ProductionOnly') {
                Stop-Operation -Code 'production_checkpoint_failed' -Message $failure.Exception.Message -Details ([ordered]@{
                    vm = [string]$vm.Name; exception_type = $failure.Exception.GetType().FullName
                    fully_qualified_error_id = [string]$failure.FullyQualifiedErrorId })
            }
            # Production on a ProductionOnly VM: the VM's own setting was tried, Standard is the fallback.
            if ($null -eq $marker) { $marker = Open-TypeOverride -VM $vm }
            $null = Write-TypeOverride -Marker $marker -Type $original
            $null = Hyper-V\Set-VM -VM $vm -CheckpointType Standard
            $typeChanged = $true
            $inEffect = 'Standard'
            $made = New-NamedCheckpoint -VM $vm -Name $Name -KnownIds $knownIds
            $fellBack = $true
        }
    } finally {
        if ($typeChanged) {
            # A failure to put the type back must not hide the creation's own error; the marker then
            # stays, and the next create puts the type back.
            try {
                $null = Hyper-V\Set-VM -VM $vm -CheckpointType $original
                $null = Write-TypeOverride -Marker $marker -Type ''
            } catch { $typeRestoreError = $_.Exception.Message }
        } else {
            # Set-VM refused the switch (InvalidState, busy): the type never changed.
            $null = Write-TypeOverride -Marker $marker -Type ''
        }
    }
} finally {
    $null = Close-TypeOverride -Marker $marker -VMId $vm.Id
}

# Which kind Hyper-V took: a checkpoint with a saved memory state is a standard one; without, it is a
# production one when a production type was in effect (the VM's Production falls back by itself).
$snapshot = $made.snapshot
$hasMemory = $snapshot.State.ToString() -eq 'Saved'
$takenType = 'standard'
if (-not $hasMemory -and ($inEffect -eq 'Production' -or $inEffect -eq 'ProductionOnly')) { $takenType = 'production' }
if ($hasMemory -and $inEffect -eq 'Production' -and $before.state -ne 'Off') { $fellBack = $true }
$vm = Get-TargetVM -Id $VMId
# The VM with its checkpoints as they are right after this one was taken (as get_vms lists them): the
# caller's lock check needs no second read.
$snapshots = @(Hyper-V\Get-VMSnapshot -VM $vm | Sort-Object -Property CreationTime)
$vmRecord = ConvertTo-VMRecord -VM $vm -Snapshots $snapshots
$vmRecord['checkpoints'] = @(foreach ($listed in $snapshots) { ConvertTo-CheckpointRecord -Snapshot $listed })
[ordered]@{
    checkpoint = (ConvertTo-CheckpointRecord -Snapshot $snapshot)
    taken_type = $takenType
    fell_back = $fellBack
    type_restore_error = $typeRestoreError
    name_repaired = $made.name_repaired
    type_override_repaired = $repaired
    vm = $vmRecord
}
