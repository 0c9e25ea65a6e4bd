param([object[]]$Changes)

# Everything is checked before anything changes, so a refusal leaves every VM as it was.
$supportsType = Test-SetVMParameter -Name 'CheckpointType'
$supportsAutomatic = Test-SetVMParameter -Name 'AutomaticCheckpointsEnabled'
$plans = @(foreach ($change in $Changes) {
    $vm = Get-TargetVM -Id ([string]$change.VMId)
    # Set-VM arguments: only the settings asked for.
    $settings = @{ VM = $vm }
    if ($null -ne $change.CheckpointType) {
        if (-not $supportsType) { Stop-Unsupported -Setting 'checkpoint_type' }
        $override = Get-TypeOverride -VMId $vm.Id
        if ($null -ne $override -and $override.live) {
            $message = "A checkpoint of VM '{0}' is being taken with its checkpoint type switched; try again when it is done" -f $vm.Name
            Stop-Operation -Code 'busy' -Message $message -Details ([ordered]@{ vm = [string]$vm.Name; reason = 'type_override_in_progress' })
        }
        $settings['CheckpointType'] = [string]$change.CheckpointType
    }
    if ($null -ne $change.AutomaticCheckpoints) {
        if (-not $supportsAutomatic) { Stop-Unsupported -Setting 'automatic_checkpoints' }
        $settings['AutomaticCheckpointsEnabled'] = [bool]$change.AutomaticCheckpoints
    }
    if ($null -ne $change.CheckpointLocation) {
        # Hyper-V moves the checkpoint location only while the VM has no checkpoints (of any type).
        $count = @(Hyper-V\Get-VMSnapshot -VM $vm).Count
        if ($count -gt 0) {
            $message = "VM '{0}' has {1} checkpoints; its checkpoint location can only change without checkpoints" -f $vm.Name, $count
            Stop-Operation -Code 'checkpoint_location_in_use' -Message $message -Details ([ordered]@{ vm = [string]$vm.Name; checkpoint_count = $count })
        }
        $settings['SnapshotFileLocation'] = [string]$change.CheckpointLocation
    }
    $settings
})

foreach ($settings in $plans) {
    $null = Hyper-V\Set-VM @settings
    # A type set on purpose replaces one a killed create left to put back (Get-TypeOverride).
    if ($settings.ContainsKey('CheckpointType')) { $null = Clear-TypeOverride -VM $settings.VM }
}
# Several clustered VMs: their records' owners from one listing of the cluster (Read-ClusterOwners).
$owners = New-ClusterOwnerTable
$null = Read-ClusterOwners -VMs @(foreach ($settings in $plans) { $settings.VM }) -Known $owners
[ordered]@{ vms = @(foreach ($settings in $plans) {
    ConvertTo-VMRecord -VM (Get-TargetVM -Id ([string]$settings.VM.Id)) -Owners $owners }) }
