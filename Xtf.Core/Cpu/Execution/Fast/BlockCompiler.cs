using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.CompilerServices;
using Xtf.Core.Cpu.Decoding;

namespace Xtf.Core.Cpu.Execution.Fast;

/// <summary>A straight run of specialised forms compiled into one method; it returns the RIP after the run.</summary>
internal sealed record CompiledBlock(Func<X86Cpu, ulong> Run, int Count, ulong LastByte);

/// <summary>
/// Compiles a hot straight-line run of specialised forms (ending at the first branch, at the end of
/// the frame, or before an instruction the forms do not cover) into one dynamic method that calls
/// the same form methods directly, so the JIT inlines them and the per-instruction dispatch goes
/// away. Nothing about the semantics changes: each instruction still runs the code the
/// interpreter runs, with its micro-op at a fixed address (the frame's micro-ops are pinned).
/// Bookkeeping is exact at every point where the guest can observe it: before an instruction that
/// may fault, RIP is that instruction's and the budget counts every instruction before it; after a
/// store, the block returns early if the store invalidated its own code (self-modifying code).
/// A block that ends by branching back to its own start (a loop) goes round in place while the
/// budget covers a pass, with the branch inline: the per-pass cost of a hot loop is its body.
/// </summary>
internal static unsafe class BlockCompiler
{
    /// <summary>Entries into an instruction before a block starting there is compiled.</summary>
    public const int Threshold = 200;

    /// <summary>Longest block, in instructions.</summary>
    private const int MaxLength = 64;

    private static readonly FieldInfo RipField = typeof(X86Cpu).GetField(nameof(X86Cpu.Rip))!;
    private static readonly FieldInfo BudgetField = typeof(X86Cpu).GetField("budget", BindingFlags.NonPublic | BindingFlags.Instance)!;
    private static readonly FieldInfo FetchPageField = typeof(X86Cpu).GetField("fetchPage", BindingFlags.NonPublic | BindingFlags.Instance)!;
    private static readonly MethodInfo ZeroFlagGetter = typeof(X86Cpu).GetProperty("ZeroFlag", BindingFlags.NonPublic | BindingFlags.Instance)!.GetMethod!;
    private static readonly MethodInfo ConditionMethod = typeof(X86Cpu).GetMethod("Condition", BindingFlags.NonPublic | BindingFlags.Instance)!;
    private static readonly Lazy<Dictionary<nint, MethodInfo>> Forms = new(FindForms);

    /// <summary>
    /// Compiles the block starting at <paramref name="start"/> in <paramref name="ops"/> (a pinned
    /// frame of micro-ops, by page offset). Returns null if no form there can be compiled.
    /// </summary>
    public static CompiledBlock? Compile(MicroOp[] ops, int start, ulong page)
    {
        var run = new List<int>();
        int mode = ops[start].Mode;
        for (int k = start; run.Count < MaxLength;)
        {
            ref MicroOp op = ref ops[k];
            if (op.Mode != mode || !Forms.Value.ContainsKey((nint)op.Fast))
                break;
            run.Add(k);
            int next = k + op.Length;
            if ((op.Traits & MicroOp.Branch) != 0 || next >= ops.Length || op.NextRip != op.Rip + op.Length
                || ops[next].Rip != op.NextRip)
                break;
            k = next;
        }

        if (run.Count == 0)
            return null;
        var method = new DynamicMethod($"block_{ops[start].Rip:x}", typeof(ulong), [typeof(X86Cpu)], typeof(X86Cpu).Module, skipVisibility: true);
        Emit(method.GetILGenerator(), ops, run, page);
        return new CompiledBlock(method.CreateDelegate<Func<X86Cpu, ulong>>(), run.Count, ops[run[^1]].LastByte);
    }

    private static void Emit(ILGenerator il, MicroOp[] ops, List<int> run, ulong page)
    {
        var next = il.DeclareLocal(typeof(ulong));
        var top = il.DefineLabel();
        il.MarkLabel(top);
        int pending = 0;
        void Settle()
        {
            // budget -= instructions retired since the last settlement
            if (pending == 0)
                return;
            il.Emit(OpCodes.Ldarg_0);
            il.Emit(OpCodes.Ldarg_0);
            il.Emit(OpCodes.Ldfld, BudgetField);
            il.Emit(OpCodes.Ldc_I8, (long)pending);
            il.Emit(OpCodes.Sub);
            il.Emit(OpCodes.Stfld, BudgetField);
            pending = 0;
        }

        foreach (int k in run)
        {
            ref MicroOp op = ref ops[k];
            if (k == run[^1] && BackEdge(op, ops[run[0]].Rip) is { } condition)
            {
                pending++;
                Settle();
                EmitBackEdge(il, op, condition, top, run.Count);
                return;
            }

            if ((op.Traits & MicroOp.MayFault) != 0)
            {
                Settle();
                il.Emit(OpCodes.Ldarg_0);
                il.Emit(OpCodes.Ldc_I8, (long)op.Rip);
                il.Emit(OpCodes.Stfld, RipField);
            }

            var form = Forms.Value[(nint)op.Fast];
            if (RegisterVariant(form) is { } variant)
            {
                // Register forms: the operands go in as constants and the next RIP is known.
                il.Emit(OpCodes.Ldarg_0);
                il.Emit(OpCodes.Ldc_I4, (int)op.Dst);
                if (variant.Name == "RegisterRegister")
                    il.Emit(OpCodes.Ldc_I4, (int)op.Src);
                else
                    il.Emit(OpCodes.Ldc_I8, (long)op.Immediate);
                il.Emit(OpCodes.Call, variant);
                il.Emit(OpCodes.Ldc_I8, (long)op.NextRip);
            }
            else
            {
                il.Emit(OpCodes.Ldarg_0);
                il.Emit(OpCodes.Ldc_I8, (long)Unsafe.AsPointer(ref op));
                il.Emit(OpCodes.Conv_U);
                il.Emit(OpCodes.Call, form);
            }

            il.Emit(OpCodes.Stloc, next);
            pending++;
            if ((op.Traits & MicroOp.WritesMemory) != 0 && k != run[^1])
            {
                // A store into this frame closed the fetch window: leave before running stale code.
                Settle();
                var same = il.DefineLabel();
                il.Emit(OpCodes.Ldarg_0);
                il.Emit(OpCodes.Ldfld, FetchPageField);
                il.Emit(OpCodes.Ldc_I8, (long)page);
                il.Emit(OpCodes.Beq, same);
                il.Emit(OpCodes.Ldloc, next);
                il.Emit(OpCodes.Ret);
                il.MarkLabel(same);
            }
        }

        Settle();
        il.Emit(OpCodes.Ldloc, next);
        il.Emit(OpCodes.Ret);
    }

    /// <summary>
    /// The condition of a Jcc or JMP that ends the block by branching back to its own first
    /// instruction (a loop): "ZF", "NZ", a Jcc condition code, or "always"; null for any other
    /// instruction. Such a branch cannot fault: its target is the block's first byte, which the
    /// hot loop checked against the CS limit (or which executed, so is canonical) on entry.
    /// </summary>
    private static string? BackEdge(in MicroOp op, ulong start)
    {
        var form = Forms.Value[(nint)op.Fast];
        if (!form.DeclaringType!.IsGenericType || form.DeclaringType.GetGenericTypeDefinition() != typeof(BranchForms<>)
            || op.Immediate != start)
            return null;
        return form.Name switch
        {
            "Je" => "ZF",
            "Jne" => "NZ",
            "Jcc" => "cc",
            "Jmp" => "always",
            _ => null,
        };
    }

    /// <summary>
    /// The loop's back edge, inline: when taken, the block goes round again in place of returning to
    /// the hot loop if the budget covers a whole pass, which is the one condition the hot loop
    /// checks before entering a block that can have changed. The frame is still valid (a store that
    /// closed the fetch window has already left the block, see <see cref="Emit"/>), and no
    /// specialised form changes the CS limit or the code size.
    /// </summary>
    private static void EmitBackEdge(ILGenerator il, in MicroOp op, string condition, Label top, int count)
    {
        var fallThrough = il.DefineLabel();
        if (condition != "always")
        {
            il.Emit(OpCodes.Ldarg_0);
            if (condition == "cc")
            {
                il.Emit(OpCodes.Ldc_I4, (int)op.Condition);
                il.Emit(OpCodes.Call, ConditionMethod);
            }
            else
            {
                il.Emit(OpCodes.Call, ZeroFlagGetter);
            }

            il.Emit(condition == "NZ" ? OpCodes.Brtrue : OpCodes.Brfalse, fallThrough);
        }

        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Ldfld, BudgetField);
        il.Emit(OpCodes.Ldc_I8, (long)count);
        il.Emit(OpCodes.Bge, top);
        il.Emit(OpCodes.Ldc_I8, (long)op.Immediate);
        il.Emit(OpCodes.Ret);
        il.MarkLabel(fallThrough);
        il.Emit(OpCodes.Ldc_I8, (long)op.NextRip);
        il.Emit(OpCodes.Ret);
    }

    /// <summary>The operands-as-arguments variant of a register form (RR, RI, R), if it has one.</summary>
    private static MethodInfo? RegisterVariant(MethodInfo form) => form.Name switch
    {
        "RR" => form.DeclaringType!.GetMethod("RegisterRegister"),
        "RI" => form.DeclaringType!.GetMethod("RegisterImmediate"),
        "R" when form.DeclaringType!.GetGenericTypeDefinition() == typeof(UnaryForms<,>) => form.DeclaringType.GetMethod("Register"),
        _ => null,
    };

    /// <summary>
    /// Every specialised form method by its entry point (the value the builder stores in
    /// <see cref="MicroOp.Fast"/>): each form class instantiated over the operation and size types.
    /// </summary>
    private static Dictionary<nint, MethodInfo> FindForms()
    {
        var types = typeof(BlockCompiler).Assembly.GetTypes();
        Type[] Implementing(Type i) => [.. types.Where(t => t.IsValueType && t.GetInterfaces().Contains(i))];
        var sizes = Implementing(typeof(IOperandSize));
        var instantiations = new List<Type>();
        foreach (var s in sizes)
        {
            instantiations.AddRange(Implementing(typeof(IBinaryOp)).Select(o => typeof(BinaryForms<,>).MakeGenericType(s, o)));
            instantiations.AddRange(Implementing(typeof(IUnaryOp)).Select(o => typeof(UnaryForms<,>).MakeGenericType(s, o)));
            instantiations.AddRange(sizes.Select(t => typeof(ExtendForms<,>).MakeGenericType(s, t)));
            instantiations.Add(typeof(StackForms<>).MakeGenericType(s));
            instantiations.Add(typeof(BranchForms<>).MakeGenericType(s));
        }

        var forms = new Dictionary<nint, MethodInfo>();
        foreach (var type in instantiations)
        {
            foreach (var m in type.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
            {
                if (m.ReturnType == typeof(ulong) && m.GetParameters() is [var p0, var p1]
                    && p0.ParameterType == typeof(X86Cpu) && p1.ParameterType == typeof(MicroOp).MakeByRefType())
                    forms[m.MethodHandle.GetFunctionPointer()] = m;
            }
        }

        return forms;
    }
}
