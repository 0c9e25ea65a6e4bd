param([string]$VMId, [string]$Id, [ValidateSet('as_checkpoint', 'previous', 'running', 'off')][string]$PowerState)

$vm = Get-TargetVM -Id $VMId
$snapshot = Find-Checkpoint -VM $vm -Id $Id -MustExist
$previousState = $vm.State.ToString()
# Restore-VMSnapshot saves a Running or Paused VM itself and, after applying the checkpoint, starts
# it again when it was Running (decompiled RestoreVMSnapshot): the restored guest would run at once,
# even when it should end Off. Saved here first, the VM comes out of the restore Saved (a checkpoint
# with memory state) or Off, and only this script decides whether the guest runs.
$saved = $false
if ($previousState -eq 'Running' -or $previousState -eq 'Paused') {
    $null = Hyper-V\Save-VM -VM $vm
    $saved = $true
}
try {
    $null = Hyper-V\Restore-VMSnapshot -VMSnapshot $snapshot -Confirm:$false
} catch {
    $failure = $_
    # As Restore-VMSnapshot itself does: a VM that ran runs on, as it was, when the restore failed.
    if ($saved -and $previousState -eq 'Running') { try { $null = Hyper-V\Start-VM -VM $vm } catch { $saved = $false } }
    throw $failure
}
$vm = Get-TargetVM -Id $VMId
$stateAfterRestore = $vm.State.ToString()

# 'previous' only brings back Running or Off; any other earlier state stays as the restore left it.
$wanted = $null
if ($PowerState -eq 'running') { $wanted = 'Running' }
elseif ($PowerState -eq 'off') { $wanted = 'Off' }
elseif ($PowerState -eq 'previous' -and ($previousState -eq 'Running' -or $previousState -eq 'Off')) { $wanted = $previousState }

if ($wanted -eq 'Running' -and $stateAfterRestore -ne 'Running') {
    # Start-VM returns once the VM runs (a saved state is resumed).
    $null = Hyper-V\Start-VM -VM $vm
    $vm = Get-TargetVM -Id $VMId
} elseif ($wanted -eq 'Off' -and $stateAfterRestore -ne 'Off') {
    $null = Set-VMOff -VM $vm
    $vm = Get-TargetVM -Id $VMId
}
[ordered]@{ previous_state = $previousState; state_after_restore = $stateAfterRestore; vm = (ConvertTo-VMRecord -VM $vm) }
