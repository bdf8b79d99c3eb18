namespace Xtf.Core.Guest;

/// <summary>XTF's report API (common/report.c): severity only rises, SUCCESS &lt; SKIP &lt; ERROR &lt; FAILURE.</summary>
public abstract partial class TestCase
{
    private enum Status
    {
        Running,
        Success,
        Skip,
        Error,
        Failure,
    }

    private Status status = Status.Running;
    private bool warnings;

    /// <summary>True once any status has been reported.</summary>
    protected bool StatusReported => status != Status.Running;

    /// <summary>XTF's xtf_success(): prints <paramref name="message"/> if any, then raises the status to SUCCESS (no effect once worse).</summary>
    protected void Success(string? message = null) => Report(Status.Success, message);

    /// <summary>XTF's xtf_skip(): prints <paramref name="message"/> if any, then raises the status to SKIP.</summary>
    protected void Skip(string? message = null) => Report(Status.Skip, message);

    /// <summary>XTF's xtf_error(): prints <paramref name="message"/> if any, then raises the status to ERROR (a test or framework bug, not a product failure).</summary>
    protected void Error(string? message = null) => Report(Status.Error, message);

    /// <summary>XTF's xtf_failure(): prints <paramref name="message"/> if any, then raises the status to FAILURE.</summary>
    protected void Failure(string? message = null) => Report(Status.Failure, message);

    /// <summary>A warning leaves the status alone; a final SUCCESS then reads "SUCCESS with warnings".</summary>
    protected void Warning(string? message = null)
    {
        warnings = true;
        PrintMessage(message);
    }

    private void Report(Status s, string? message)
    {
        if (s > status)
            status = s;
        PrintMessage(message);
    }

    /// <summary>The message is printed as given; a missing final newline is added so the result line stays last.</summary>
    private void PrintMessage(string? message)
    {
        if (message is null)
            return;
        Printk(message.EndsWith('\n') ? message : message + "\n");
    }

    /// <summary>XTF's xtf_report_status: ERROR if nothing was reported, then the result line.</summary>
    private void ReportStatus()
    {
        if (status == Status.Running)
            Error("Test did not report a status\n");
        string suffix = warnings && status == Status.Success ? " with warnings" : "";
        Printk($"Test result: {status.ToString().ToUpperInvariant()}{suffix}\n");
    }
}
