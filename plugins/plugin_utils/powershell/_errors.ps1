# Errors: how a failure becomes the runner's reply code (docs/host-protocol.md, "Errors").
# Shared functions: an operation is sent those it calls, each from its 'function Verb-Noun {' line to
# its closing '}' at the start of a line (docs/host-protocol.md, "Shared functions").

function Stop-Operation {
    # The runner replies with hyperv_code / hyperv_details instead of the generic host_error.
    # Exception.Data only takes serializable values on .NET Framework; [ordered]@{} and @{} are.
    param([string]$Code, [string]$Message, [System.Collections.IDictionary]$Details)
    $ex = New-Object System.InvalidOperationException $Message
    $ex.Data['hyperv_code'] = $Code
    $ex.Data['hyperv_details'] = $Details
    throw $ex
}

function Get-ErrorId {
    # The error id of a Hyper-V cmdlet's error: the part of FullyQualifiedErrorId before the comma
    # (ErrorIdentifier in the decompiled module: ObjectInUse, InvalidState, OperationFailed, ...).
    param($Record)
    ([string]$Record.FullyQualifiedErrorId).Split(',')[0]
}

function Get-ErrorCode {
    # The runner's reply code and details for an error record, from what PowerShell gives (the
    # exception's data, the error id, the category, the exception type), never from the message,
    # which is localized. docs/host-protocol.md has the table and its sources.
    param($Record)
    $e = $Record.Exception
    if ($e.Data.Contains('hyperv_code')) {
        return [ordered]@{ code = [string]$e.Data['hyperv_code']; details = $e.Data['hyperv_details'] }
    }
    $id = Get-ErrorId -Record $Record
    $category = [string]$Record.CategoryInfo.Category
    $code = 'host_error'
    if ($id -eq 'ObjectInUse' -or $id -eq 'InvalidState' -or $category -eq 'ResourceBusy') { $code = 'busy' }
    elseif ($id -eq 'OperationTimeout') { $code = 'hyperv_timeout' }
    elseif ($id -eq 'AccessDenied' -or $category -eq 'PermissionDenied') { $code = 'access_denied' }
    elseif ($e -is [System.Management.Automation.CommandNotFoundException]) {
        # Only a missing Hyper-V cmdlet means the module is missing; the scripts module-qualify them.
        $command = [string]$e.CommandName
        if (-not $command) { $command = [string]$Record.TargetObject }
        if ($command -like 'Hyper-V\*') { $code = 'hyperv_module_missing' }
    }
    $details = [ordered]@{
        exception_type = $e.GetType().FullName; fully_qualified_error_id = [string]$Record.FullyQualifiedErrorId
        category = $category }
    [ordered]@{ code = $code; details = $details }
}
