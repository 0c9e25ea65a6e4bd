param([string]$VMId, [string]$Id, [ValidateSet('as_checkpoint', 'previous', 'running', 'off')][string]$PowerState)

$vm = Get-TargetVM -Id $VMId
$snapshot = Find-Checkpoint -VM $vm -Id $Id -MustExist
$previousState = $vm.State.ToString()
$null = Hyper-V\Restore-VMSnapshot -VMSnapshot $snapshot -Confirm:$false
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
    # Power off, not a guest shutdown: the restored state is thrown away anyway.
    $null = Hyper-V\Stop-VM -VM $vm -TurnOff -Force -Confirm:$false
    $vm = Get-TargetVM -Id $VMId
}
[ordered]@{ previous_state = $previousState; state_after_restore = $stateAfterRestore; vm = (ConvertTo-VMRecord -VM $vm) }
