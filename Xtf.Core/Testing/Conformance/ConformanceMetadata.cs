using System.Text.Json;

namespace Xtf.Core.Testing.Conformance;

/// <summary>
/// <c>metadata.json</c> of a SingleStepTests suite: per opcode (and per ModRM.reg for group
/// opcodes) the mask of FLAGS bits the instruction leaves defined (<c>flags-mask</c>). Bits clear
/// in the mask are undefined after the instruction and are not compared.
/// </summary>
public sealed class ConformanceMetadata
{
    /// <summary>The file's name in a SingleStepTests suite, looked for by <see cref="ConformanceInputs.For"/>.</summary>
    public const string FileName = "metadata.json";

    /// <summary>No undefined flags: every FLAGS bit is compared.</summary>
    public const ushort AllFlags = 0xFFFF;

    private readonly Dictionary<string, Entry> opcodes;

    private ConformanceMetadata(Dictionary<string, Entry> opcodes) => this.opcodes = opcodes;

    /// <summary>Metadata with no entries: all flags are compared.</summary>
    public static ConformanceMetadata Empty { get; } = new([]);

    /// <summary>
    /// Reads the <c>opcodes</c> object: keys are the opcode in hex (<c>"27"</c>, <c>"0FA3"</c>; case ignored),
    /// each entry an optional <c>flags-mask</c> (a 16-bit number; absent means all flags defined) and an optional
    /// <c>reg</c> object of ModRM.reg (<c>"0"</c>-<c>"7"</c>) sub-entries. Other fields (<c>status</c>, ...) are
    /// ignored. An unreadable file or a malformed entry is a <see cref="ConformanceDataException"/>.
    /// </summary>
    public static ConformanceMetadata Load(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            using var json = JsonDocument.Parse(stream);
            if (!json.RootElement.TryGetProperty("opcodes", out var ops) || ops.ValueKind != JsonValueKind.Object)
                throw new ConformanceDataException($"{path}: no \"opcodes\" object");
            var map = new Dictionary<string, Entry>(StringComparer.OrdinalIgnoreCase);
            foreach (var op in ops.EnumerateObject())
                map[op.Name] = ReadEntry(path, op.Name, op.Value);
            return new ConformanceMetadata(map);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            throw new ConformanceDataException($"{path}: cannot read metadata: {e.Message}", e);
        }
    }

    /// <summary>
    /// The defined-flags mask of the instruction in <paramref name="bytes"/>: prefixes are skipped,
    /// 0F selects the two-byte table, and group opcodes are looked up by ModRM.reg.
    /// </summary>
    public ushort FlagsMask(ReadOnlySpan<byte> bytes)
    {
        int i = InstructionEncoding.OpcodeOffset(bytes);
        if (i >= bytes.Length)
            return AllFlags;
        string key = bytes[i] == 0x0F && i + 1 < bytes.Length ? $"0F{bytes[++i]:X2}" : $"{bytes[i]:X2}";
        if (!opcodes.TryGetValue(key, out var entry))
            return AllFlags;
        if (entry.ByReg is { } byReg)
        {
            if (i + 1 >= bytes.Length)
                return AllFlags;
            int reg = (bytes[i + 1] >> 3) & 7;
            return byReg.TryGetValue(reg, out var sub) ? sub.FlagsMask : AllFlags;
        }

        return entry.FlagsMask;
    }

    private static Entry ReadEntry(string path, string name, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object)
            throw new ConformanceDataException($"{path}: opcode {name} is not an object");
        ushort mask = AllFlags;
        if (e.TryGetProperty("flags-mask", out var m))
        {
            if (!m.TryGetUInt16(out mask))
                throw new ConformanceDataException($"{path}: opcode {name}: flags-mask {m} is not a 16-bit number");
        }

        Dictionary<int, Entry>? byReg = null;
        if (e.TryGetProperty("reg", out var regs))
        {
            if (regs.ValueKind != JsonValueKind.Object)
                throw new ConformanceDataException($"{path}: opcode {name}: reg is not an object");
            byReg = [];
            foreach (var r in regs.EnumerateObject())
            {
                if (!int.TryParse(r.Name, out int reg) || reg is < 0 or > 7)
                    throw new ConformanceDataException($"{path}: opcode {name}: reg '{r.Name}' is not 0-7");
                byReg[reg] = ReadEntry(path, $"{name}.{reg}", r.Value);
            }
        }

        return new Entry(mask, byReg);
    }

    private sealed record Entry(ushort FlagsMask, Dictionary<int, Entry>? ByReg);
}
