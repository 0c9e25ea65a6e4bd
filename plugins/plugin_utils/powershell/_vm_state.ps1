# A VM's power state and disk merges.
# Shared functions: an operation is sent those it calls, each from its 'function Verb-Noun {' line to
# its closing '}' at the start of a line (docs/host-protocol.md, "Shared functions").

function Test-Merging {
    param($VM)
    $primary = ConvertTo-Text $VM.PrimaryOperationalStatus
    $secondary = ConvertTo-Text $VM.SecondaryOperationalStatus
    ($primary -eq 'MergingDisks' -or $secondary -eq 'MergingDisks')
}

function Set-VMOff {
    # Off without Stop-VM: a turn-off or shut-down by Stop-VM deletes the VM's current checkpoint when
    # that is an automatic one (decompiled StopVM), e.g. the one just restored. Save-VM and
    # Remove-VMSavedState do not; Remove-VMSavedState is there from Windows Server 2012 on (its docs
    # pages for 2012 and 2012 R2), so no host needs Stop-VM here.
    param($VM)
    $state = $VM.State.ToString()
    if ($state -eq 'Off') { return }
    if ($state -ne 'Saved') { $null = Hyper-V\Save-VM -VM $VM }
    $null = Hyper-V\Remove-VMSavedState -VM $VM
}

function Wait-MergeVisible {
    # Remove-VMSnapshot returns before the VM shows the merge it started. Polls for a short grace
    # period until the VM reports MergingDisks ('running') or, when the delete shortens the chain
    # under the VM's running disk, until the chain is shorter than before ('done': the merge ended
    # already); 'unseen' when neither happened in time.
    param([string]$VMId, [int]$ChainBefore, [bool]$ChainShrinks, [int]$Seconds)
    $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
    while ($true) {
        $vm = Get-TargetVM -Id $VMId
        if (Test-Merging -VM $vm) { return 'running' }
        if ($ChainShrinks -and @(Get-ChainFiles -Drives @(Hyper-V\Get-VMHardDiskDrive -VM $vm)).Count -lt $ChainBefore) {
            return 'done'
        }
        if ([DateTime]::UtcNow -ge $deadline) { return 'unseen' }
        Start-Sleep -Milliseconds 250
    }
}
