# The host: what its Hyper-V module supports, and its record.
# Shared functions: an operation is sent those it calls, each from its 'function Verb-Noun {' line to
# its closing '}' at the start of a line (docs/host-protocol.md, "Shared functions").

function Test-SetVMParameter {
    # Feature detection instead of OS versions: the docs list -AutomaticCheckpointsEnabled for
    # Windows Server 2016, which does not have it. False without the Hyper-V module (a cluster
    # node that only manages the cluster).
    param([string]$Name)
    $command = Get-Command -Name 'Hyper-V\Set-VM' -ErrorAction SilentlyContinue
    $null -ne $command -and $command.Parameters.ContainsKey($Name)
}

function Get-HostFeatures {
    # The settings the records depend on, read once by an operation that builds many records and
    # passed to them.
    [ordered]@{
        checkpoint_type = (Test-SetVMParameter -Name 'CheckpointType')
        automatic_checkpoints = (Test-SetVMParameter -Name 'AutomaticCheckpointsEnabled')
    }
}

function Get-HostRecord {
    $os = Get-CimInstance -ClassName Win32_OperatingSystem
    [ordered]@{
        computer_name = $env:COMPUTERNAME
        os_caption = ([string]$os.Caption).Trim()
        os_version = [string]$os.Version
        supports_checkpoint_type = (Test-SetVMParameter -Name 'CheckpointType')
        supports_automatic_checkpoints = (Test-SetVMParameter -Name 'AutomaticCheckpointsEnabled')
        time = [DateTime]::UtcNow.ToString('o')
    }
}

function Stop-Unsupported {
    # $Setting is the VM record key of the setting the host lacks.
    param([string]$Setting)
    $hostRecord = Get-HostRecord
    $message = "Host {0} runs {1} (version {2}), which does not support the {3} setting" -f @(
        $hostRecord.computer_name, $hostRecord.os_caption, $hostRecord.os_version, $Setting)
    Stop-Operation -Code 'unsupported_on_host' -Message $message -Details ([ordered]@{
        setting = $Setting; os_caption = $hostRecord.os_caption; os_version = $hostRecord.os_version })
}
