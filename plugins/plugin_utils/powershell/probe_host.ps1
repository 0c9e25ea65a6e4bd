param([string]$VMId, [string]$Experiment)

# One experiment of the host probe (hyperv_host_probe, playbooks/probe_host.yml) on a disposable VM:
# the raw cmdlets whose behaviour the collection and its simulator assume (_host_assumptions.py), and
# what the host did. The VM is put back as it was found: power state, checkpoint type, automatic
# checkpoints, and no checkpoint left.

function Get-FreshCheckpoints {
    # The VM's checkpoints read anew after a change: the module serves a list read less than 5 seconds
    # before again (Get-CheckpointList), so this waits for that, then notes when this list was read.
    param($VM, [hashtable]$Listing)
    $null = Wait-CheckpointListRead -ListedAt $Listing.at
    $Listing.at = [DateTime]::UtcNow
    @(Hyper-V\Get-VMSnapshot -VM $VM)
}

function Set-ProbeRunning {
    param([string]$Id)
    $target = Get-TargetVM -Id $Id
    if ($target.State.ToString() -ne 'Running') { $null = Hyper-V\Start-VM -VM $target }
    Get-TargetVM -Id $Id
}

function Set-ProbeType {
    param([string]$Id, [string]$Type)
    $target = Get-TargetVM -Id $Id
    if ((Test-SetVMParameter -Name 'CheckpointType') -and [string]$target.CheckpointType -ne $Type) {
        $null = Hyper-V\Set-VM -VM $target -CheckpointType $Type
    }
    Get-TargetVM -Id $Id
}

function Get-ProbeFailure {
    # What a failed cmdlet gave: its error id, category and the code the runner would answer.
    param($Record)
    [ordered]@{ error_id = (Get-ErrorId -Record $Record); category = [string]$Record.CategoryInfo.Category
        code = (Get-ErrorCode -Record $Record).code }
}

$experiments = @('restore_running_standard', 'restore_running_production', 'restore_off_standard', 'remove_saved_state',
    'turn_off_automatic', 'checkpoint_default_name', 'production_fallback', 'merge_visibility', 'busy_error',
    'checkpoint_disks', 'volumes', 'deleted_checkpoint_properties', 'cluster_owner')
if ($experiments -notcontains $Experiment) {
    Stop-Operation -Code 'invalid_request' -Message ("Unknown probe experiment '{0}'" -f $Experiment)
}
$vm = Get-TargetVM -Id $VMId
# The lists of checkpoints read after a change are read anew (Get-FreshCheckpoints).
$listing = @{ at = [DateTime]::UtcNow }
if (@(Hyper-V\Get-VMSnapshot -VM $vm).Count -gt 0) {
    $message = "VM '{0}' has checkpoints; the probe needs a disposable VM without any" -f $vm.Name
    Stop-Operation -Code 'invalid_request' -Message $message -Details ([ordered]@{ vm = [string]$vm.Name })
}
$startState = $vm.State.ToString()
$startType = $null
if (Test-SetVMParameter -Name 'CheckpointType') { $startType = [string]$vm.CheckpointType }
$startAutomatic = $null
if (Test-SetVMParameter -Name 'AutomaticCheckpointsEnabled') { $startAutomatic = [bool]$vm.AutomaticCheckpointsEnabled }
$observations = [ordered]@{}
try {
    if ($Experiment -eq 'restore_running_standard') {
        $vm = Set-ProbeRunning -Id $VMId
        $vm = Set-ProbeType -Id $VMId -Type 'Standard'
        $snapshot = Hyper-V\Checkpoint-VM -VM $vm -SnapshotName 'hyperv-probe standard' -Passthru
        $observations['checkpoint_state'] = $snapshot.State.ToString()
        $null = Hyper-V\Restore-VMSnapshot -VMSnapshot $snapshot -Confirm:$false
        $observations['state_after_restore'] = (Get-TargetVM -Id $VMId).State.ToString()
    } elseif ($Experiment -eq 'restore_running_production') {
        $vm = Set-ProbeRunning -Id $VMId
        $vm = Set-ProbeType -Id $VMId -Type 'ProductionOnly'
        $snapshot = $null
        try {
            $snapshot = Hyper-V\Checkpoint-VM -VM $vm -SnapshotName 'hyperv-probe production' -Passthru
            $observations['production_possible'] = $true
        } catch {
            $failure = Get-ProbeFailure -Record $_
            $observations['production_possible'] = $false
            $observations['production_failure_id'] = $failure.error_id
            $observations['production_failure_category'] = $failure.category
        }
        if ($null -ne $snapshot) {
            $observations['checkpoint_state'] = $snapshot.State.ToString()
            $null = Hyper-V\Restore-VMSnapshot -VMSnapshot $snapshot -Confirm:$false
            $observations['state_after_restore'] = (Get-TargetVM -Id $VMId).State.ToString()
        }
    } elseif ($Experiment -eq 'restore_off_standard') {
        $vm = Set-ProbeRunning -Id $VMId
        $vm = Set-ProbeType -Id $VMId -Type 'Standard'
        $snapshot = Hyper-V\Checkpoint-VM -VM $vm -SnapshotName 'hyperv-probe standard' -Passthru
        $null = Set-VMOff -VM (Get-TargetVM -Id $VMId)
        $null = Hyper-V\Restore-VMSnapshot -VMSnapshot $snapshot -Confirm:$false
        $observations['state_after_restore'] = (Get-TargetVM -Id $VMId).State.ToString()
    } elseif ($Experiment -eq 'remove_saved_state') {
        $vm = Set-ProbeRunning -Id $VMId
        $null = Hyper-V\Save-VM -VM $vm
        $vm = Get-TargetVM -Id $VMId
        $observations['state_after_save'] = $vm.State.ToString()
        $null = Hyper-V\Remove-VMSavedState -VM $vm
        $observations['state_after_remove'] = (Get-TargetVM -Id $VMId).State.ToString()
        $observations['checkpoints_unchanged'] = (@(Get-FreshCheckpoints -VM $vm -Listing $listing).Count -eq 0)
    } elseif ($Experiment -eq 'turn_off_automatic') {
        $observations['supported'] = ($null -ne $startAutomatic)
        if ($null -ne $startAutomatic) {
            $null = Set-VMOff -VM $vm
            $null = Hyper-V\Set-VM -VM $vm -AutomaticCheckpointsEnabled $true
            $null = Hyper-V\Start-VM -VM $vm
            $automatic = @(Get-FreshCheckpoints -VM $vm -Listing $listing | Where-Object { $_.IsAutomaticCheckpoint })
            $observations['automatic_checkpoint_taken'] = ($automatic.Count -gt 0)
            if ($automatic.Count -gt 0) {
                $automaticId = [string]$automatic[0].Id
                $null = Hyper-V\Stop-VM -VM (Get-TargetVM -Id $VMId) -TurnOff -Force -Confirm:$false
                $observations['automatic_checkpoint_deleted_by_turn_off'] = ($null -eq (Find-Checkpoint -VM $vm -Id $automaticId))
            }
        }
    } elseif ($Experiment -eq 'checkpoint_default_name') {
        $snapshot = Hyper-V\Checkpoint-VM -VM $vm -Passthru
        $observations['default_name'] = [string]$snapshot.Name
        $observations['default_name_starts_with_vm_name'] = ([string]$snapshot.Name).StartsWith([string]$vm.Name)
    } elseif ($Experiment -eq 'production_fallback') {
        $vm = Set-ProbeRunning -Id $VMId
        $vm = Set-ProbeType -Id $VMId -Type 'Production'
        $snapshot = Hyper-V\Checkpoint-VM -VM $vm -SnapshotName 'hyperv-probe production fallback' -Passthru
        $observations['has_memory_state'] = ($snapshot.State.ToString() -eq 'Saved')
        $observations['type_after'] = ConvertTo-Text (Get-TargetVM -Id $VMId).CheckpointType
    } elseif ($Experiment -eq 'merge_visibility') {
        $vm = Set-ProbeRunning -Id $VMId
        # Merges of the earlier experiments' checkpoints end first, so that this one is measured alone.
        $waited = [DateTime]::UtcNow
        while ((Test-Merging -VM (Get-TargetVM -Id $VMId)) -and ([DateTime]::UtcNow - $waited).TotalSeconds -lt 600) {
            Start-Sleep -Milliseconds 500
        }
        $snapshot = Hyper-V\Checkpoint-VM -VM $vm -SnapshotName 'hyperv-probe merge' -Passthru
        $chainBefore = @(Get-ChainFiles -Drives @(Hyper-V\Get-VMHardDiskDrive -VM $vm)).Count
        $null = Hyper-V\Remove-VMSnapshot -VMSnapshot $snapshot -Confirm:$false
        $started = [DateTime]::UtcNow
        $observations['merge_visible_at_once'] = (Test-Merging -VM (Get-TargetVM -Id $VMId))
        $seen = $null
        $ended = $null
        $chain = $chainBefore
        while (([DateTime]::UtcNow - $started).TotalSeconds -lt 120) {
            $now = Get-TargetVM -Id $VMId
            $merging = Test-Merging -VM $now
            if ($merging -and $null -eq $seen) { $seen = ([DateTime]::UtcNow - $started).TotalSeconds }
            $chain = @(Get-ChainFiles -Drives @(Hyper-V\Get-VMHardDiskDrive -VM $now)).Count
            if (-not $merging -and $chain -lt $chainBefore) { $ended = ([DateTime]::UtcNow - $started).TotalSeconds; break }
            Start-Sleep -Milliseconds 100
        }
        $observations['merge_seen_after_seconds'] = $seen
        $observations['merge_ended_after_seconds'] = $ended
        $observations['chain_before'] = $chainBefore
        $observations['chain_after'] = $chain
        $observations['chain_shrank'] = ($chain -lt $chainBefore)
    } elseif ($Experiment -eq 'busy_error') {
        $vm = Set-ProbeRunning -Id $VMId
        $job = Hyper-V\Checkpoint-VM -VM $vm -SnapshotName 'hyperv-probe busy' -AsJob
        $observations['code'] = $null
        try {
            $null = Hyper-V\Checkpoint-VM -VM $vm -SnapshotName 'hyperv-probe busy 2' -Passthru
            $observations['conflict'] = $false
        } catch {
            $failure = Get-ProbeFailure -Record $_
            $observations['conflict'] = $true
            $observations['error_id'] = $failure.error_id
            $observations['category'] = $failure.category
            $observations['code'] = $failure.code
        }
        $waited = [DateTime]::UtcNow
        while (@('NotStarted', 'Running') -contains [string]$job.State -and ([DateTime]::UtcNow - $waited).TotalSeconds -lt 300) {
            Start-Sleep -Milliseconds 200
        }
    } elseif ($Experiment -eq 'checkpoint_disks') {
        $vm = Set-ProbeRunning -Id $VMId
        $snapshot = Hyper-V\Checkpoint-VM -VM $vm -SnapshotName 'hyperv-probe disks' -Passthru
        $frozen = @(foreach ($drive in @(Hyper-V\Get-VMHardDiskDrive -VMSnapshot $snapshot)) { [string]$drive.Path })
        $running = @(foreach ($drive in @(Hyper-V\Get-VMHardDiskDrive -VM $vm)) { Get-DiskFile -Path ([string]$drive.Path) })
        $parents = @(foreach ($file in $running) { [string]$file.ParentPath })
        $observations['frozen_is_parent_of_running'] = ($frozen.Count -gt 0 -and @($frozen | Where-Object { $parents -notcontains $_ }).Count -eq 0)
        $observations['running_is_differencing'] = ($running.Count -gt 0 -and
            @($running | Where-Object { $_.VhdType.ToString() -ne 'Differencing' }).Count -eq 0)
    } elseif ($Experiment -eq 'volumes') {
        $volumes = @(Get-VMVolumes -VM $vm)
        $observations['volumes'] = $volumes
        $observations['all_paths_on_a_volume'] = (@($volumes | Where-Object { $null -eq $_.free_bytes }).Count -eq 0)
        # A VM on a Cluster Shared Volume: the cluster told its space (Get-ClusterSharedVolumeTable).
        $observations['cluster_storage_paths_have_space'] = (@($volumes | Where-Object {
            $null -ne (Get-ClusterStorageRoot -Path ([string]$_.path)) -and $null -eq $_.free_bytes }).Count -eq 0)
    } elseif ($Experiment -eq 'deleted_checkpoint_properties') {
        $snapshot = Hyper-V\Checkpoint-VM -VM $vm -SnapshotName 'hyperv-probe deleted' -Passthru
        $null = Hyper-V\Remove-VMSnapshot -VMSnapshot $snapshot -Confirm:$false
        $observations['id_readable_after_delete'] = $true
        try { $null = [string]$snapshot.Id } catch { $observations['id_readable_after_delete'] = $false }
        $observations['state_readable_after_delete'] = $true
        try { $null = $snapshot.State.ToString() } catch { $observations['state_readable_after_delete'] = $false }
    } else {
        $observations['clustered'] = [bool]$vm.IsClustered
        if ($vm.IsClustered) {
            $owner = Get-ClusterOwner -VMId $vm.Id
            $observations['owner_node'] = $owner
            $observations['owner_is_this_node'] = ($owner -eq $env:COMPUTERNAME)
            # The listing that serves several VMs (Read-ClusterOwners) names the same owner; $null when it
            # cannot be read as the scripts read it (they then ask per VM).
            $listing = Get-ClusterOwnerListing -VM ([string]$vm.Name)
            $observations['listing_owner_matches'] = $null
            if ($listing -is [hashtable]) { $observations['listing_owner_matches'] = ($listing.owners[([string]$vm.Id).ToLowerInvariant()] -eq $owner) }
        }
    }
} finally {
    # Back as it was: no checkpoint, the type and automatic checkpoints, the power state.
    $vm = Get-TargetVM -Id $VMId
    foreach ($root in @(Get-FreshCheckpoints -VM $vm -Listing $listing | Where-Object { -not (ConvertTo-Text $_.ParentSnapshotId) })) {
        $null = Hyper-V\Remove-VMSnapshot -VMSnapshot $root -IncludeAllChildSnapshots -Confirm:$false
    }
    if ($null -ne $startAutomatic) { $null = Hyper-V\Set-VM -VM $vm -AutomaticCheckpointsEnabled $startAutomatic }
    if ($startType) { $null = Set-ProbeType -Id $VMId -Type $startType }
    $vm = Get-TargetVM -Id $VMId
    if ($startState -eq 'Running' -and $vm.State.ToString() -ne 'Running') { $null = Hyper-V\Start-VM -VM $vm }
    if ($startState -eq 'Off' -and $vm.State.ToString() -ne 'Off') { $null = Set-VMOff -VM $vm }
}
[ordered]@{ experiment = $Experiment; observations = $observations; host = (Get-HostRecord) }
