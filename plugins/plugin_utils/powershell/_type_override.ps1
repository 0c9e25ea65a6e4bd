# The type-override marker: the checkpoint type a create switched, to be put back even after a killed run.
# Shared functions: an operation is sent those it calls, each from its 'function Verb-Noun {' line to
# its closing '}' at the start of a line (docs/host-protocol.md, "Shared functions").

function Get-TypeOverridePath {
    param($VMId)
    [IO.Path]::Combine($env:ProgramData, 'hyperv.checkpoint', 'type-override', ([string]$VMId + '.txt'))
}

function Test-SharingViolation {
    # ERROR_SHARING_VIOLATION (32) or ERROR_LOCK_VIOLATION (33): another process holds the file.
    # PowerShell wraps an exception of a .NET method in a MethodInvocationException.
    param($Exception)
    while ($null -ne $Exception.InnerException -and -not ($Exception -is [System.IO.IOException])) {
        $Exception = $Exception.InnerException
    }
    $code = $Exception.HResult -band 0xFFFF
    $code -eq 32 -or $code -eq 33
}

function Test-AccessDenied {
    # Whether opening a file failed for want of rights (UnauthorizedAccessException, inside PowerShell's
    # MethodInvocationException).
    param($Exception)
    for ($inner = $Exception; $null -ne $inner; $inner = $inner.InnerException) {
        if ($inner -is [System.UnauthorizedAccessException]) { return $true }
    }
    $false
}

function New-TypeOverrideFolder {
    # The markers' folder, made so that every member of Hyper-V Administrators (S-1-5-32-578) may open the
    # markers in it (Modify, inherited by the files): the account that repairs or waits for a marker need not
    # be the one that wrote it, nor a local administrator. A folder that exists is left as it is.
    param([string]$Path)
    if ([IO.Directory]::Exists($Path)) { return }
    $sid = New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList 'S-1-5-32-578'
    $rule = New-Object -TypeName System.Security.AccessControl.FileSystemAccessRule -ArgumentList @($sid, 'Modify',
        'ContainerInherit, ObjectInherit', 'None', 'Allow')
    $security = New-Object -TypeName System.Security.AccessControl.DirectorySecurity
    $security.AddAccessRule($rule)
    $null = [IO.Directory]::CreateDirectory([IO.Path]::GetDirectoryName($Path), $security)
    $null = [IO.Directory]::CreateDirectory($Path, $security)
}

function Get-TypeOverride {
    # A create that switches the VM-wide checkpoint type first writes the type to put back into a
    # marker file, and holds it open until it has put the type back. Held by another process: that
    # create still runs (live). Not held but not empty: it was killed (controller timeout, WinRS shell
    # deleted) before it put the type back, and the next create does. A marker this account may not open
    # (another account's, in a folder made without New-TypeOverrideFolder's rights) is held too: reading
    # it as no marker would neither wait for that run nor leave its type to be put back.
    param($VMId)
    $path = Get-TypeOverridePath -VMId $VMId
    if (-not [IO.File]::Exists($path)) { return $null }
    try {
        $stream = [IO.File]::Open($path, [IO.FileMode]::Open, [IO.FileAccess]::ReadWrite, [IO.FileShare]::ReadWrite)
    } catch {
        if ((Test-SharingViolation $_.Exception) -or (Test-AccessDenied $_.Exception)) {
            return [ordered]@{ original_type = $null; live = $true }
        }
        return $null
    }
    try { $original = Read-TypeOverride -Marker $stream } finally { $stream.Dispose() }
    if (-not $original) { return $null }
    [ordered]@{ original_type = $original; live = $false }
}

function Open-TypeOverride {
    # Takes the VM's marker (see Get-TypeOverride): the open file, which the caller disposes, or $null
    # when the marker cannot be written here (no right to ProgramData): the type is then still put back
    # at the end, only a killed run cannot be repaired later. Another create holding it: busy.
    param($VM)
    $path = Get-TypeOverridePath -VMId $VM.Id
    try {
        $null = New-TypeOverrideFolder -Path ([IO.Path]::GetDirectoryName($path))
        return [IO.File]::Open($path, [IO.FileMode]::OpenOrCreate, [IO.FileAccess]::ReadWrite, [IO.FileShare]::Read)
    } catch {
        if (Test-SharingViolation $_.Exception) {
            $message = "Another run is taking a checkpoint of VM '{0}' with its checkpoint type switched; try again when it is done" -f $VM.Name
            Stop-Operation -Code 'busy' -Message $message -Details ([ordered]@{ vm = [string]$VM.Name; reason = 'type_override_in_progress' })
        }
        if ([IO.File]::Exists($path) -and (Test-AccessDenied $_.Exception)) {
            $message = ("The checkpoint-type marker of VM '{0}' ({1}) belongs to another account, which may be taking a " +
                "checkpoint with the type switched; try again when it is done, or let that account or an administrator " +
                "take a checkpoint of the VM, which puts the type back and removes the marker") -f $VM.Name, $path
            Stop-Operation -Code 'busy' -Message $message -Details ([ordered]@{ vm = [string]$VM.Name; reason = 'type_override_other_account' })
        }
        return $null
    }
}

function Read-TypeOverride {
    param($Marker)
    if ($null -eq $Marker -or $Marker.Length -eq 0) { return $null }
    $null = $Marker.Seek(0, [IO.SeekOrigin]::Begin)
    $bytes = New-Object byte[] ([int]$Marker.Length)
    $null = $Marker.Read($bytes, 0, $bytes.Length)
    ConvertTo-Text ([Text.Encoding]::ASCII.GetString($bytes).Trim())
}

function Write-TypeOverride {
    # $Type: the type to put back; '' once it is back.
    param($Marker, [string]$Type)
    if ($null -eq $Marker) { return }
    $bytes = [Text.Encoding]::ASCII.GetBytes($Type)
    $Marker.SetLength(0)
    $Marker.Write($bytes, 0, $bytes.Length)
    $Marker.Flush($true)
}

function Close-TypeOverride {
    # Releases the marker; deletes it when no type is left to put back.
    param($Marker, $VMId)
    if ($null -eq $Marker) { return }
    $empty = $Marker.Length -eq 0
    $Marker.Dispose()
    # Another create may open it right now; then it stays, empty, and means nothing.
    if ($empty) { try { [IO.File]::Delete((Get-TypeOverridePath -VMId $VMId)) } catch { $empty = $null } }
}

function Clear-TypeOverride {
    # Forgets a type left to put back, once the VM's type has been set on purpose.
    param($VM)
    if ($null -eq (Get-TypeOverride -VMId $VM.Id)) { return }
    $marker = Open-TypeOverride -VM $VM
    $null = Write-TypeOverride -Marker $marker -Type ''
    $null = Close-TypeOverride -Marker $marker -VMId $VM.Id
}
