namespace Xtf.Core.Guest.Runtime;

/// <summary>
/// A fixup handler (XTF's extable_entry handler): inspect or adjust the frame, return true if
/// the exception is dealt with.
/// </summary>
public delegate bool ExtableHandler(ExceptionFrame regs, ExtableEntry entry);

/// <summary>An exception-table entry: a fault address, where to resume, and an optional handler.</summary>
public sealed record ExtableEntry(ulong Fault, ulong Fixup, ExtableHandler? Handler);

/// <summary>
/// XTF's exception table (common/extable.c): exact-address lookup of the faulting (or, for a
/// trap, the following) instruction pointer. Entries come and go as Exec snippets do.
/// </summary>
public sealed class Extable
{
    private readonly Dictionary<ulong, List<ExtableEntry>> entries = [];

    /// <summary>Adds an entry; an entry for an address already present shadows it until removed.</summary>
    public void Add(ExtableEntry e)
    {
        if (!entries.TryGetValue(e.Fault, out var list))
            entries[e.Fault] = list = [];
        list.Add(e);
    }

    /// <summary>Removes the first entry equal to <paramref name="e"/> (record equality: same fault, fixup and handler), unshadowing any older entry for the address.</summary>
    public void Remove(ExtableEntry e)
    {
        if (entries.TryGetValue(e.Fault, out var list) && list.Remove(e) && list.Count == 0)
            entries.Remove(e.Fault);
    }

    /// <summary>The most recently added entry for an address (an inner Exec shadows an outer one).</summary>
    public ExtableEntry? Search(ulong ip) =>
        entries.TryGetValue(ip, out var list) && list.Count > 0 ? list[^1] : null;
}
