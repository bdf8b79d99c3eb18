using Iced.Intel;
using Xtf.Core.Cpu.Execution.Fast;
using Xtf.Core.Cpu.Memory;

namespace Xtf.Core.Cpu.Decoding;

/// <summary>
/// Decoded-instruction cache keyed by physical address and code size (DESIGN.md section 7).
/// A frame's entries are dropped when anything writes the frame, so self-modifying code sees its
/// own stores. Instructions that cross a page boundary are decoded every time and never cached,
/// since their second page may be remapped independently. An entry also remembers the RIP it was
/// decoded at: Iced resolves relative branch and RIP-relative targets to absolute addresses, so
/// the same bytes reached at another RIP (an alias mapping, another CS base) are decoded afresh.
/// </summary>
internal sealed class DecodeCache
{
    /// <summary>
    /// Most frames decoded at once (a frame is some 470 KiB, so about 60 MiB per instance): past
    /// it, the next new frame evicts a resident one, round robin, and its code decodes again when
    /// run. XTF's images run out of a few dozen code pages.
    /// </summary>
    public const int Capacity = 128;

    private readonly X86Cpu cpu;
    private readonly Dictionary<ulong, CodeFrame> frames = [];

    // Every frame object allocated, for the eviction hand; at most Capacity of them, except while a
    // nested Run (an instruction in flight) may not reuse any.
    private readonly List<CodeFrame> pool = [];
    private int hand;

    // Frames dropped by a write wait in `retired` until no instruction can still be running out of
    // them (a store form reads its micro-op after the store that dropped its own frame), then are
    // cleared into `spare` for reuse: at the next decode outside any instruction, or when Run is
    // entered from outside. Test snippets rewrite code pages thousands of times.
    private readonly List<CodeFrame> retired = [];
    private readonly Stack<CodeFrame> spare = [];
    private readonly bool[] isCode;
    private readonly GuestCodeReader reader;
    private readonly Decoder decoder16, decoder32, decoder64;
    private Instruction scratch;
    private ulong lastFrame = ulong.MaxValue;
    private CodeFrame? lastCode;

    public DecodeCache(X86Cpu cpu, ulong frameCount)
    {
        this.cpu = cpu;
        isCode = new bool[frameCount];
        reader = new GuestCodeReader(cpu);
        decoder16 = Decoder.Create(16, reader);
        decoder32 = Decoder.Create(32, reader);
        decoder64 = Decoder.Create(64, reader);
    }

    /// <summary>
    /// The instruction at CS:<paramref name="rip"/> (linear and physical address already
    /// translated for execute). <paramref name="valid"/> is false for bytes that do not decode.
    /// A fault while fetching the rest of the instruction is thrown as the fetch fault.
    /// </summary>
    public ref readonly Instruction Fetch(ulong rip, ulong linear, ulong physical, out bool valid)
    {
        int bitness = cpu.Bitness;
        ulong frame = physical >> 12;
        int offset = (int)(physical & 0xFFF);
        CodeFrame? cached;
        if (frame == lastFrame)
        {
            cached = lastCode;
        }
        else
        {
            frames.TryGetValue(frame, out cached);
            lastFrame = frame;
            lastCode = cached;
        }

        if (cached is not null && cached.Ops[offset].Bitness == bitness && cached.Ops[offset].Rip == rip)
        {
            valid = true;
            return ref cached.Instructions[offset];
        }

        var decoder = bitness switch { 16 => decoder16, 32 => decoder32, _ => decoder64 };
        reader.Reset(linear, physical);
        decoder.IP = rip;
        decoder.Decode(out scratch);
        if (reader.Fault is { } fault && (scratch.IsInvalid || decoder.LastError == DecoderError.NoMoreBytes))
            throw fault;
        valid = !scratch.IsInvalid;
        if (!valid || offset + scratch.Length > 0x1000 || frame >= (ulong)isCode.Length)
            return ref scratch;

        if (cached is null)
        {
            cached = NewFrame();
            cached.Number = frame;
            frames[frame] = cached;
            isCode[frame] = true;
            lastFrame = frame;
            lastCode = cached;
        }

        // A compiled block addresses the micro-ops of every instruction it covers: if one of them
        // is decoded again (for another RIP or code size), the frame's blocks are stale.
        if (cached.Ops[offset].Mode != 0)
            cached.DropBlocks();
        else
            cached.Filled.Add((ushort)offset);
        cached.Ops[offset] = FastForms.Build(in scratch, bitness);
        cached.Instructions[offset] = scratch;
        return ref cached.Instructions[offset];
    }

    /// <summary>
    /// A cleared frame for new code: a recycled one if any, a new one below <see cref="Capacity"/>,
    /// else a resident one evicted. Only <see cref="X86Cpu"/>'s step calls this, at an instruction
    /// boundary, so outside a nested Run no instruction still reads a retired or evicted frame.
    /// </summary>
    private CodeFrame NewFrame()
    {
        bool boundary = !cpu.InstructionInFlight;
        if (boundary)
            RecycleRetired();
        if (spare.TryPop(out var reused))
            return reused;
        if (pool.Count < Capacity || !boundary)
        {
            var created = new CodeFrame();
            pool.Add(created);
            return created;
        }

        for (int n = 0; n < pool.Count; n++)
        {
            var victim = pool[hand];
            hand = (hand + 1) % pool.Count;
            if (frames.TryGetValue(victim.Number, out var resident) && resident == victim)
            {
                frames.Remove(victim.Number);
                isCode[victim.Number] = false;
                if (victim.Number == lastFrame)
                    lastCode = null;
                cpu.InvalidateFetchWindow();
                victim.Clear();
                return victim;
            }
        }

        var extra = new CodeFrame();
        pool.Add(extra);
        return extra;
    }

    /// <summary>Frames holding decoded code now.</summary>
    public int ResidentFrames => frames.Count;

    /// <summary>Frame objects allocated so far (resident, retired or spare).</summary>
    public int AllocatedFrames => pool.Count;

    /// <summary>Called for every write to physical memory: drops decoded code of that frame.</summary>
    public void OnWrite(ulong frame)
    {
        if (frame < (ulong)isCode.Length && isCode[frame])
        {
            isCode[frame] = false;
            if (frames.Remove(frame, out var dropped))
                retired.Add(dropped);
            if (frame == lastFrame)
                lastCode = null;
            cpu.InvalidateFetchWindow();
        }
    }

    /// <summary>
    /// Makes the frames dropped so far reusable. Called only where no instruction is executing
    /// (the CPU entering <see cref="X86Cpu.Run"/> from outside), since a running micro-op may
    /// still read its own entry in a frame that its store dropped.
    /// </summary>
    public void RecycleRetired()
    {
        foreach (var frame in retired)
        {
            frame.Clear();
            spare.Push(frame);
        }

        retired.Clear();
    }

    /// <summary>The cached decodes of a frame, if it has any (for the CPU's fetch window).</summary>
    public CodeFrame? Frame(ulong frame) => frames.GetValueOrDefault(frame);

    /// <summary>
    /// Decoded instructions of one 4 KiB frame, by offset: the instruction and its micro-op, which
    /// also holds the entry's key (code size and decode RIP).
    /// </summary>
    internal sealed class CodeFrame
    {
        /// <summary>The physical frame number this frame holds code of, while resident.</summary>
        public ulong Number;


        public readonly Instruction[] Instructions = new Instruction[4096];

        /// <summary>Pinned: compiled blocks address their micro-ops directly.</summary>
        public readonly MicroOp[] Ops = GC.AllocateArray<MicroOp>(4096, pinned: true);

        /// <summary>Compiled blocks of this frame (index 0 unused); dropped with the frame.</summary>
        public readonly List<CompiledBlock?> Blocks = [null];

        /// <summary>Offsets holding an entry, so that clearing the frame for reuse touches only those.</summary>
        public readonly List<ushort> Filled = [];

        /// <summary>Empties the frame for reuse at another physical address.</summary>
        public void Clear()
        {
            foreach (ushort offset in Filled)
                Ops[offset] = default;
            Filled.Clear();
            Blocks.RemoveRange(1, Blocks.Count - 1);
        }

        /// <summary>Forgets every compiled block of the frame; hot code compiles again.</summary>
        public void DropBlocks()
        {
            if (Blocks.Count == 1)
                return;
            Blocks.RemoveRange(1, Blocks.Count - 1);
            foreach (ref var op in Ops.AsSpan())
            {
                op.Block = 0;
                op.Heat = 0;
            }
        }
    }
}

/// <summary>
/// Feeds the decoder instruction bytes through the guest's translation, one byte at a time, so a
/// fetch that runs into an unmapped page faults on that page only if the instruction needs it.
/// </summary>
internal sealed class GuestCodeReader : CodeReader
{
    private readonly X86Cpu cpu;
    private ulong linear;
    private ulong physical;
    private int count;

    public GuestCodeReader(X86Cpu cpu) => this.cpu = cpu;

    public CpuFault? Fault { get; private set; }

    public void Reset(ulong linear, ulong physical)
    {
        this.linear = linear;
        this.physical = physical;
        count = 0;
        Fault = null;
    }

    public override int ReadByte()
    {
        if (count >= 15 || Fault is not null)
            return -1;
        if (count > 0 && ((linear + (ulong)count) & 0xFFF) == 0)
        {
            try
            {
                physical = cpu.Translate(linear + (ulong)count, AccessKind.Execute, cpu.Cpl == 3) - (ulong)count;
            }
            catch (CpuFault f)
            {
                Fault = f;
                return -1;
            }
        }

        return (int)cpu.ReadPhysical(physical + (ulong)count++, 1);
    }
}
