// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Linq.Expressions;
using System.Reflection;
using System.Text;
using System.Text.Json;

namespace Muvera.VectorData;

/// <summary>A filter translated to a parameterised SQLite condition.</summary>
/// <param name="Sql">The condition; every part of it is 0 or 1, never NULL, so that NOT behaves like C#'s !.</param>
/// <param name="Parameters">Its parameters (@p0, @p1, …) and their values.</param>
internal sealed record SqlFilter(string Sql, IReadOnlyList<KeyValuePair<string, object?>> Parameters)
{
    public static SqlFilter All { get; } = new("1", []);
}

/// <summary>
/// Translates a LINQ filter over a record's key and data properties into a SQLite condition with parameters (values
/// never become SQL text). Supported: <c>==</c> and <c>!=</c> on every stored type (null included);
/// <c>&lt;</c>, <c>&lt;=</c>, <c>&gt;</c>, <c>&gt;=</c> on numbers, DateTime and DateTimeOffset; <c>&amp;&amp;</c>,
/// <c>||</c>, <c>!</c>; a bool property on its own; <c>Contains</c> of a property in a captured collection (array, list,
/// set, any <see cref="IEnumerable{T}"/>); <c>string.Contains(string)</c> on a string property (ordinal, as in .NET);
/// constants and captured variables anywhere a value goes. Anything else throws <see cref="NotSupportedException"/>
/// naming the expression.
/// </summary>
/// <remarks>C# semantics are kept where SQL's three-valued logic differs: equality is null-safe (<c>IS</c>), and a
/// comparison with a null operand is false (so its negation is true), as for lifted operators.</remarks>
internal sealed class SqlFilterTranslator
{
    private readonly IReadOnlyDictionary<string, ColumnProperty> _properties;
    private readonly ParameterExpression _record;
    private readonly List<KeyValuePair<string, object?>> _parameters = [];

    private SqlFilterTranslator(IReadOnlyDictionary<string, ColumnProperty> properties, ParameterExpression record)
    {
        _properties = properties;
        _record = record;
    }

    /// <summary>Translates <paramref name="filter"/>.</summary>
    /// <param name="filter">The filter.</param>
    /// <param name="properties">Key and data properties by CLR property name.</param>
    /// <returns>The condition.</returns>
    /// <exception cref="NotSupportedException">A part of the filter cannot be translated; the message names it.</exception>
    public static SqlFilter Translate(LambdaExpression filter, IReadOnlyDictionary<string, ColumnProperty> properties)
    {
        var translator = new SqlFilterTranslator(properties, filter.Parameters[0]);
        string sql = translator.Condition(filter.Body);
        return new SqlFilter(sql, translator._parameters);
    }

    private string Condition(Expression node)
    {
        switch (node.NodeType)
        {
            case ExpressionType.AndAlso:
            case ExpressionType.OrElse:
                var logical = (BinaryExpression)node;
                string op = node.NodeType == ExpressionType.AndAlso ? "AND" : "OR";
                return $"({Condition(logical.Left)} {op} {Condition(logical.Right)})";

            case ExpressionType.Not when node.Type == typeof(bool):
                return $"(NOT {Condition(((UnaryExpression)node).Operand)})";

            case ExpressionType.Equal:
            case ExpressionType.NotEqual:
            case ExpressionType.LessThan:
            case ExpressionType.LessThanOrEqual:
            case ExpressionType.GreaterThan:
            case ExpressionType.GreaterThanOrEqual:
                return Comparison((BinaryExpression)node);

            case ExpressionType.Call:
                return Call((MethodCallExpression)node);

            case ExpressionType.MemberAccess when node.Type == typeof(bool) && TryColumn(node, out ColumnProperty? flag):
                return $"({Quote(flag!.Column)} IS 1)";

            default:
                if (node.Type == typeof(bool) && !DependsOnRecord(node))
                {
                    return Evaluate(node) is true ? "1" : "0";
                }

                throw Unsupported(node);
        }
    }

    private string Comparison(BinaryExpression node)
    {
        Expression left = node.Left;
        Expression right = node.Right;
        ExpressionType type = node.NodeType;
        if (!TryColumn(left, out ColumnProperty? column))
        {
            if (!TryColumn(right, out column))
            {
                if (!DependsOnRecord(node))
                {
                    return Evaluate(node) is true ? "1" : "0";
                }

                throw Unsupported(node);
            }

            (left, right) = (right, left);
            type = type switch
            {
                ExpressionType.LessThan => ExpressionType.GreaterThan,
                ExpressionType.LessThanOrEqual => ExpressionType.GreaterThanOrEqual,
                ExpressionType.GreaterThan => ExpressionType.LessThan,
                ExpressionType.GreaterThanOrEqual => ExpressionType.LessThanOrEqual,
                _ => type,
            };
        }

        if (DependsOnRecord(right))
        {
            throw Unsupported(node, "only a property compared with a value (not with another property) is supported");
        }

        object? value = ColumnProperty.ToDb(Evaluate(right));
        string quoted = Quote(column!.Column);
        switch (type)
        {
            case ExpressionType.Equal:
                return $"({quoted} IS {Parameter(value)})";
            case ExpressionType.NotEqual:
                return $"({quoted} IS NOT {Parameter(value)})";
        }

        if (column.Kind is ColumnKind.Text or ColumnKind.Guid or ColumnKind.Boolean)
        {
            throw Unsupported(node, $"{column.ValueType.Name} properties support == and != only");
        }

        string op = type switch
        {
            ExpressionType.LessThan => "<",
            ExpressionType.LessThanOrEqual => "<=",
            ExpressionType.GreaterThan => ">",
            _ => ">=",
        };
        return $"(coalesce({quoted} {op} {Parameter(value)}, 0))";
    }

    private string Call(MethodCallExpression node)
    {
        MethodInfo method = node.Method;
        if (method.Name == nameof(string.Contains) && method.DeclaringType == typeof(string)
            && node.Object is not null && node.Arguments.Count == 1 && node.Arguments[0].Type == typeof(string))
        {
            if (!TryColumn(node.Object, out ColumnProperty? text) || text!.Kind != ColumnKind.Text || DependsOnRecord(node.Arguments[0]))
            {
                throw Unsupported(node, "string.Contains is supported on a string property with a value argument");
            }

            object? needle = Evaluate(node.Arguments[0]);
            if (needle is null)
            {
                throw Unsupported(node, "the substring is null");
            }

            return $"(coalesce(instr({Quote(text.Column)}, {Parameter(needle)}) > 0, 0))";
        }

        if (method.Name == "Contains" && TryContainsOperands(node, out Expression? source, out Expression? item))
        {
            if (!TryColumn(item!, out ColumnProperty? column) || DependsOnRecord(source!))
            {
                throw Unsupported(node, "Contains is supported as collection.Contains(record.Property) with a captured collection");
            }

            if (Evaluate(source!) is not IEnumerable values)
            {
                throw Unsupported(node, "the collection is null");
            }

            bool hasNull = false;
            var list = new List<object?>();
            foreach (object? value in values)
            {
                if (value is null)
                {
                    hasNull = true;
                }
                else
                {
                    list.Add(ColumnProperty.ToDb(value));
                }
            }

            string quoted = Quote(column!.Column);
            string json = JsonArray(list);
            string inList = $"(coalesce({quoted} IN (SELECT value FROM json_each({Parameter(json)})), 0))";
            return hasNull ? $"({inList} OR {quoted} IS NULL)" : inList;
        }

        if (node.Type == typeof(bool) && !DependsOnRecord(node))
        {
            return Evaluate(node) is true ? "1" : "0";
        }

        throw Unsupported(node);
    }

    // collection.Contains(item) as an instance method (List<T>, HashSet<T>, ICollection<T>), Enumerable.Contains, or
    // MemoryExtensions.Contains over an array turned into a span (C# 14 binds array.Contains to it).
    private static bool TryContainsOperands(MethodCallExpression node, out Expression? source, out Expression? item)
    {
        source = null;
        item = null;
        if (node.Object is not null && node.Arguments.Count == 1 && node.Object.Type != typeof(string))
        {
            source = node.Object;
            item = node.Arguments[0];
            return true;
        }

        if (node.Object is null && node.Method.DeclaringType == typeof(Enumerable) && node.Arguments.Count == 2)
        {
            source = node.Arguments[0];
            item = node.Arguments[1];
            return true;
        }

        if (node.Object is null && node.Method.DeclaringType == typeof(MemoryExtensions)
            && (node.Arguments.Count == 2 || (node.Arguments.Count == 3 && node.Arguments[2] is ConstantExpression { Value: null })))
        {
            source = UnwrapSpan(node.Arguments[0]);
            item = node.Arguments[1];
            return source is not null;
        }

        return false;
    }

    // The array behind an implicit array-to-span conversion (op_Implicit or a span constructor).
    private static Expression? UnwrapSpan(Expression span) => span switch
    {
        MethodCallExpression { Method.Name: "op_Implicit", Arguments: [{ Type.IsArray: true } array] } => array,
        NewExpression { Arguments: [{ Type.IsArray: true } array] } => array,
        UnaryExpression { NodeType: ExpressionType.Convert, Operand: { Type.IsArray: true } array } => array,
        _ => null,
    };

    // A key or data property of the record, possibly behind conversions (nullable lifting, numeric widening).
    private bool TryColumn(Expression node, out ColumnProperty? column)
    {
        while (node is UnaryExpression { NodeType: ExpressionType.Convert or ExpressionType.ConvertChecked } convert)
        {
            node = convert.Operand;
        }

        if (node is MemberExpression { Expression: ParameterExpression parameter, Member: PropertyInfo property } && parameter == _record
            && _properties.TryGetValue(property.Name, out column))
        {
            return true;
        }

        column = null;
        return false;
    }

    private bool DependsOnRecord(Expression node)
    {
        var finder = new ParameterFinder(_record);
        finder.Visit(node);
        return finder.Found;
    }

    private static object? Evaluate(Expression node)
    {
        if (node is ConstantExpression constant)
        {
            return constant.Value;
        }

        // Captured variables: a field or property of a closure object, read without compiling.
        if (node is MemberExpression { Expression: ConstantExpression { Value: { } target } } member)
        {
            return member.Member switch
            {
                FieldInfo field => field.GetValue(target),
                PropertyInfo property => property.GetValue(target),
                _ => Compile(node),
            };
        }

        return Compile(node);
    }

    private static object? Compile(Expression node) =>
        Expression.Lambda<Func<object?>>(Expression.Convert(node, typeof(object))).Compile(preferInterpretation: true)();

    private string Parameter(object? value)
    {
        string name = "@p" + _parameters.Count.ToString(CultureInfo.InvariantCulture);
        _parameters.Add(new KeyValuePair<string, object?>(name, value));
        return name;
    }

    /// <summary>Stored values (string, long, double) as a JSON array, for <c>json_each</c>.</summary>
    public static string JsonArray(IEnumerable<object?> values)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            foreach (object? value in values)
            {
                switch (value)
                {
                    case string s:
                        writer.WriteStringValue(s);
                        break;
                    case long l:
                        writer.WriteNumberValue(l);
                        break;
                    case double d when double.IsFinite(d):
                        writer.WriteNumberValue(d);
                        break;
                    case double d:
                        throw new NotSupportedException($"The value {d} cannot be matched by Contains (JSON has no NaN or infinity).");
                    default:
                        writer.WriteNullValue();
                        break;
                }
            }

            writer.WriteEndArray();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>A column name as a quoted SQLite identifier.</summary>
    public static string Quote(string column) => "\"" + column.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static NotSupportedException Unsupported(Expression node, string? why = null)
    {
        var message = new StringBuilder($"The filter expression '{node}' is not supported by the Muvera VectorData connector");
        message.Append(why is null ? "." : $": {why}.");
        message.Append(" Supported: ==, != (any stored type, null included), <, <=, >, >= (numbers, DateTime, DateTimeOffset) between a key or data property and a value; &&, ||, !; ");
        message.Append("a bool property; collection.Contains(property) with a captured collection; property.Contains(\"text\") on strings.");
        return new NotSupportedException(message.ToString());
    }

    private sealed class ParameterFinder(ParameterExpression parameter) : ExpressionVisitor
    {
        public bool Found { get; private set; }

        protected override Expression VisitParameter(ParameterExpression node)
        {
            Found |= node == parameter;
            return node;
        }
    }
}
