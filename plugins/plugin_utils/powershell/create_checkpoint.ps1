param([string]$VMId, [string]$Name, [string]$CheckpointType)

if ($CheckpointType -and @('Standard', 'Production', 'ProductionOnly') -notcontains $CheckpointType) {
    Stop-Operation -Code 'invalid_request' -Message ("Unknown checkpoint type '{0}'" -f $CheckpointType)
}
$vm = Get-TargetVM -Id $VMId
$before = ConvertTo-VMRecord -VM $vm
# Hosts without checkpoint types (2012 R2) take standard checkpoints only.
$hasTypes = Test-SetVMParameter -Name 'CheckpointType'
if ($CheckpointType -and -not $hasTypes) { Stop-Unsupported -Setting 'checkpoint_type' }
$original = $before.checkpoint_type
# A requested type never overrides an administrator's Disabled.
if ($original -eq 'Disabled') {
    $message = "Checkpoints are disabled for VM '{0}'" -f $vm.Name
    Stop-Operation -Code 'checkpoints_disabled' -Message $message -Details ([ordered]@{ vm = [string]$vm.Name })
}
if ($before.checkpoint_count -ge 50) {
    $message = "VM '{0}' already has {1} checkpoints, the Hyper-V maximum is 50" -f $vm.Name, $before.checkpoint_count
    Stop-Operation -Code 'limit_reached' -Message $message -Details ([ordered]@{ vm = [string]$vm.Name; count = $before.checkpoint_count; limit = 50 })
}
$effective = 'Standard'
if ($CheckpointType) { $effective = $CheckpointType } elseif ($hasTypes) { $effective = $original }

# Checkpoint-VM takes the type set on the VM, and a checkpoint does not record which kind it is.
# So Production runs as ProductionOnly first and as Standard when that fails: the caller learns
# which kind was taken. The VM's own setting is put back whatever happens.
$attempt = 'ProductionOnly'
if ($effective -eq 'Standard') { $attempt = 'Standard' }
$typeChanged = $false
$typeRestoreError = $null
$fellBack = $false
try {
    if ($hasTypes -and $original -ne $attempt) {
        $typeChanged = $true
        $null = Hyper-V\Set-VM -VM $vm -CheckpointType $attempt
    }
    try {
        $snapshot = Hyper-V\Checkpoint-VM -VM $vm -SnapshotName $Name -Passthru
    } catch {
        if ($attempt -eq 'Standard') { throw }
        # Any failure counts: the reason (guest VSS, busy, ...) is only in localized message text.
        if ($effective -eq 'ProductionOnly') {
            Stop-Operation -Code 'production_checkpoint_failed' -Message $_.Exception.Message -Details ([ordered]@{
                vm = [string]$vm.Name; exception_type = $_.Exception.GetType().FullName; fully_qualified_error_id = [string]$_.FullyQualifiedErrorId })
        }
        $typeChanged = $true
        $null = Hyper-V\Set-VM -VM $vm -CheckpointType Standard
        $snapshot = Hyper-V\Checkpoint-VM -VM $vm -SnapshotName $Name -Passthru
        $fellBack = $true
    }
} finally {
    if ($typeChanged) {
        # A failure to put the type back must not hide the creation's own error.
        try { $null = Hyper-V\Set-VM -VM $vm -CheckpointType $original }
        catch { $typeRestoreError = $_.Exception.Message }
    }
}

$takenType = 'standard'
if ($attempt -eq 'ProductionOnly' -and -not $fellBack) { $takenType = 'production' }
$vm = Get-TargetVM -Id $VMId
[ordered]@{
    checkpoint = (ConvertTo-CheckpointRecord -Snapshot $snapshot)
    taken_type = $takenType
    fell_back = $fellBack
    type_restore_error = $typeRestoreError
    vm = (ConvertTo-VMRecord -VM $vm)
}
