// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Reflection;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData;

namespace Muvera.VectorData;

/// <summary>How a property's values are stored in SQLite (and compared in filters).</summary>
internal enum ColumnKind
{
    /// <summary>TEXT: string.</summary>
    Text,

    /// <summary>INTEGER: the integral types.</summary>
    Integer,

    /// <summary>REAL: float and double.</summary>
    Real,

    /// <summary>INTEGER 0 or 1.</summary>
    Boolean,

    /// <summary>INTEGER: <see cref="DateTime.Ticks"/> (the kind is not kept).</summary>
    DateTime,

    /// <summary>INTEGER: <see cref="DateTimeOffset.UtcTicks"/> (read back at offset zero: the same instant).</summary>
    DateTimeOffset,

    /// <summary>TEXT: the "D" format, lower case.</summary>
    Guid,
}

/// <summary>A key or data property: its CLR property, its SQLite column and how values convert.</summary>
internal sealed class ColumnProperty
{
    public ColumnProperty(PropertyInfo property, string column, ColumnKind kind, Type valueType, bool isNullable)
    {
        Property = property;
        Column = column;
        Kind = kind;
        ValueType = valueType;
        IsNullable = isNullable;
    }

    public PropertyInfo Property { get; }

    /// <summary>The SQLite column name (unquoted).</summary>
    public string Column { get; }

    public ColumnKind Kind { get; }

    /// <summary>The property type without <see cref="Nullable{T}"/>.</summary>
    public Type ValueType { get; }

    public bool IsNullable { get; }

    public string SqlType => Kind switch
    {
        ColumnKind.Text or ColumnKind.Guid => "TEXT",
        ColumnKind.Real => "REAL",
        _ => "INTEGER",
    };

    /// <summary>The value as SQLite stores it: string, long, double or null.</summary>
    public static object? ToDb(object? value) => value switch
    {
        null => null,
        string s => s,
        bool b => b ? 1L : 0L,
        float f => (double)f,
        double d => d,
        System.DateTime t => t.Ticks,
        System.DateTimeOffset o => o.UtcTicks,
        System.Guid g => g.ToString("D"),
        byte or sbyte or short or ushort or int or uint or long => Convert.ToInt64(value, CultureInfo.InvariantCulture),
        _ => throw new NotSupportedException($"Values of type {value.GetType()} cannot be stored or compared by the Muvera connector."),
    };

    /// <summary>A SQLite value (long, double, string or DBNull) as this property's CLR type.</summary>
    public object? FromDb(object? value)
    {
        if (value is null or DBNull)
        {
            return null;
        }

        return Kind switch
        {
            ColumnKind.Text => (string)value,
            ColumnKind.Boolean => Convert.ToInt64(value, CultureInfo.InvariantCulture) != 0,
            ColumnKind.Real => Convert.ChangeType(Convert.ToDouble(value, CultureInfo.InvariantCulture), ValueType, CultureInfo.InvariantCulture),
            ColumnKind.Integer => Convert.ChangeType(Convert.ToInt64(value, CultureInfo.InvariantCulture), ValueType, CultureInfo.InvariantCulture),
            ColumnKind.DateTime => new DateTime(Convert.ToInt64(value, CultureInfo.InvariantCulture)),
            ColumnKind.DateTimeOffset => new DateTimeOffset(Convert.ToInt64(value, CultureInfo.InvariantCulture), TimeSpan.Zero),
            ColumnKind.Guid => System.Guid.Parse((string)value),
            _ => throw new InvalidOperationException($"Unknown column kind {Kind}."),
        };
    }
}

/// <summary>The record's multi-vector property.</summary>
internal sealed class VectorProperty
{
    public VectorProperty(PropertyInfo property, int dimensions, bool isText, IEmbeddingGenerator? generator)
    {
        Property = property;
        Dimensions = dimensions;
        IsText = isText;
        Generator = generator;
    }

    public PropertyInfo Property { get; }

    /// <summary>The token dimension.</summary>
    public int Dimensions { get; }

    /// <summary>True when the property holds text that <see cref="Generator"/> encodes; false for
    /// <see cref="MultiVectorEmbedding"/>.</summary>
    public bool IsText { get; }

    /// <summary>The embedding generator for text (records and searches), or null.</summary>
    public IEmbeddingGenerator? Generator { get; }
}

/// <summary>
/// The schema of a record type: its key, data and multi-vector properties, read from the record definition when one is
/// given, else from the <see cref="VectorStoreKeyAttribute"/>, <see cref="VectorStoreDataAttribute"/> and
/// <see cref="VectorStoreVectorAttribute"/> attributes of <typeparamref name="TRecord"/>'s public properties.
/// </summary>
internal sealed class RecordModel<TKey, TRecord>
    where TKey : notnull
    where TRecord : class
{
    /// <summary>Key column of both tables (user columns cannot take names starting with this prefix).</summary>
    public const string KeyColumn = "_muvera_key";

    public const string HashColumn = "_muvera_hash";

    public const string DeleteColumn = "_muvera_delete";

    private const string ReservedPrefix = "_muvera_";

    private readonly Func<TRecord> _create;

    private RecordModel(ColumnProperty key, bool autoGenerateKey, IReadOnlyList<ColumnProperty> data, VectorProperty vector, Func<TRecord> create)
    {
        Key = key;
        AutoGenerateKey = autoGenerateKey;
        Data = data;
        Vector = vector;
        _create = create;
        ByPropertyName = data.Append(key).ToDictionary(p => p.Property.Name, StringComparer.Ordinal);
    }

    public ColumnProperty Key { get; }

    /// <summary>Whether an empty <see cref="Guid"/> key is replaced by a new one on upsert.</summary>
    public bool AutoGenerateKey { get; }

    public IReadOnlyList<ColumnProperty> Data { get; }

    public VectorProperty Vector { get; }

    /// <summary>Key and data properties by CLR property name.</summary>
    public IReadOnlyDictionary<string, ColumnProperty> ByPropertyName { get; }

    /// <summary>What the key is stored as: "string", "guid", "int32" or "int64" (kept in the database, checked on open).</summary>
    public static string KeyKind => typeof(TKey) == typeof(string) ? "string"
        : typeof(TKey) == typeof(Guid) ? "guid"
        : typeof(TKey) == typeof(int) ? "int32"
        : "int64";

    public static RecordModel<TKey, TRecord> Build(string collectionName, VectorStoreCollectionDefinition? definition, IEmbeddingGenerator? fallbackGenerator)
    {
        // The schema comes from the definition when one is given, else from the record type's attributes.
        string schema = definition is null ? nameof(TRecord) : nameof(definition);
        Type keyType = typeof(TKey);
        if (keyType != typeof(string) && keyType != typeof(Guid) && keyType != typeof(int) && keyType != typeof(long))
        {
            throw new NotSupportedException(
                $"Collection '{collectionName}': key type {keyType} is not supported by the Muvera connector; use string, Guid, int or long.");
        }

        if (typeof(TRecord) == typeof(Dictionary<string, object?>))
        {
            throw new NotSupportedException(
                $"Collection '{collectionName}': dynamic (Dictionary<string, object?>) records are not supported by the Muvera connector; declare a record class.");
        }

        ConstructorInfo? constructor = typeof(TRecord).GetConstructor(Type.EmptyTypes);
        if (constructor is null)
        {
            throw new NotSupportedException(
                $"Collection '{collectionName}': record type {typeof(TRecord)} has no public parameterless constructor, which the Muvera connector needs to create records.");
        }

        PropertyInfo[] clrProperties = typeof(TRecord).GetProperties(BindingFlags.Public | BindingFlags.Instance);
        var declared = new List<(PropertyInfo Clr, VectorStoreProperty Definition)>();
        if (definition is not null)
        {
            ArgumentNullException.ThrowIfNull(definition.Properties, "definition.Properties");
            foreach (VectorStoreProperty property in definition.Properties)
            {
                PropertyInfo clr = clrProperties.FirstOrDefault(p => p.Name == property.Name)
                    ?? throw new ArgumentException(
                        $"Collection '{collectionName}': the definition names property '{property.Name}', which {typeof(TRecord)} does not have.", nameof(definition));
                declared.Add((clr, property));
            }
        }
        else
        {
            foreach (PropertyInfo clr in clrProperties)
            {
                if (clr.GetCustomAttribute<VectorStoreKeyAttribute>() is { } keyAttribute)
                {
                    declared.Add((clr, new VectorStoreKeyProperty(clr.Name, clr.PropertyType)
                    {
                        StorageName = keyAttribute.StorageName,
                        // The attribute cannot say "explicitly false": unset means the default (Guid keys generated when empty).
                        IsAutoGenerated = keyAttribute.IsAutoGenerated ? true : null,
                    }));
                }
                else if (clr.GetCustomAttribute<VectorStoreDataAttribute>() is { } dataAttribute)
                {
                    declared.Add((clr, new VectorStoreDataProperty(clr.Name, clr.PropertyType)
                    {
                        StorageName = dataAttribute.StorageName,
                        IsIndexed = dataAttribute.IsIndexed,
                        IsFullTextIndexed = dataAttribute.IsFullTextIndexed,
                    }));
                }
                else if (clr.GetCustomAttribute<VectorStoreVectorAttribute>() is { } vectorAttribute)
                {
                    declared.Add((clr, new VectorStoreVectorProperty(clr.Name, clr.PropertyType, vectorAttribute.Dimensions)
                    {
                        StorageName = vectorAttribute.StorageName,
                        DistanceFunction = vectorAttribute.DistanceFunction,
                        IndexKind = vectorAttribute.IndexKind,
                    }));
                }
            }
        }

        ColumnProperty? key = null;
        bool autoGenerate = false;
        VectorProperty? vector = null;
        var data = new List<ColumnProperty>();
        var columns = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach ((PropertyInfo clr, VectorStoreProperty property) in declared)
        {
            // The vector property is only read (and set for IncludeVectors); keys and data are set on every read.
            bool settable = clr.SetMethod is { IsPublic: true };
            if (clr.GetMethod is not { IsPublic: true } || clr.GetIndexParameters().Length > 0 || (!settable && property is not VectorStoreVectorProperty))
            {
                throw new NotSupportedException(
                    $"Collection '{collectionName}': property {typeof(TRecord).Name}.{clr.Name} needs a public getter and setter.");
            }

            switch (property)
            {
                case VectorStoreKeyProperty keyProperty:
                    if (key is not null)
                    {
                        throw new NotSupportedException(
                            $"Collection '{collectionName}': {typeof(TRecord).Name} has two key properties ({key.Property.Name}, {clr.Name}); the Muvera connector supports one.");
                    }

                    if (clr.PropertyType != keyType)
                    {
                        throw new ArgumentException(
                            $"Collection '{collectionName}': key property {clr.Name} is of type {clr.PropertyType}, but the collection's key type is {keyType}.", schema);
                    }

                    key = new ColumnProperty(clr, KeyColumn, KindOfKey(keyType), keyType, isNullable: false);
                    autoGenerate = keyProperty.IsAutoGenerated ?? keyType == typeof(Guid);
                    if (autoGenerate && keyType != typeof(Guid))
                    {
                        throw new NotSupportedException(
                            $"Collection '{collectionName}': key property {clr.Name} of type {keyType} is marked auto-generated; the Muvera connector generates Guid keys only.");
                    }

                    break;

                case VectorStoreDataProperty:
                    string column = property.StorageName ?? clr.Name;
                    if (column.Length == 0 || column.StartsWith(ReservedPrefix, StringComparison.OrdinalIgnoreCase) || column.Contains('\0', StringComparison.Ordinal))
                    {
                        throw new ArgumentException(
                            $"Collection '{collectionName}': data property {clr.Name} has storage name \"{column}\"; names must be non-empty, without NUL, and not start with \"{ReservedPrefix}\".", schema);
                    }

                    if (!columns.Add(column))
                    {
                        throw new ArgumentException(
                            $"Collection '{collectionName}': storage name \"{column}\" (property {clr.Name}) is used twice (SQLite compares column names case-insensitively).", schema);
                    }

                    data.Add(DataColumn(collectionName, clr, column));
                    break;

                case VectorStoreVectorProperty vectorProperty:
                    if (vector is not null)
                    {
                        throw new NotSupportedException(
                            $"Collection '{collectionName}': {typeof(TRecord).Name} has two vector properties ({vector.Property.Name}, {clr.Name}); the Muvera connector supports one multi-vector property.");
                    }

                    vector = VectorOf(collectionName, schema, clr, vectorProperty, definition?.EmbeddingGenerator ?? fallbackGenerator);
                    break;

                default:
                    throw new NotSupportedException($"Collection '{collectionName}': property kind {property.GetType().Name} ({clr.Name}) is not supported.");
            }
        }

        if (key is null)
        {
            throw new ArgumentException($"Collection '{collectionName}': {typeof(TRecord).Name} has no key property ([VectorStoreKey] or a VectorStoreKeyProperty).", schema);
        }

        if (vector is null)
        {
            throw new ArgumentException(
                $"Collection '{collectionName}': {typeof(TRecord).Name} has no vector property; the Muvera connector needs one multi-vector property ([VectorStoreVector] of type MultiVectorEmbedding, or string with a generator).", schema);
        }

        Func<TRecord> create = () => (TRecord)constructor.Invoke(null);
        return new RecordModel<TKey, TRecord>(key, autoGenerate, data, vector, create);
    }

    public TRecord CreateRecord() => _create();

    /// <summary>The index id of a key: the string itself, the Guid in "D" format (lower case), the integer in invariant
    /// decimal.</summary>
    public static string IdOf(TKey key) => key switch
    {
        string s => s,
        Guid g => g.ToString("D"),
        int i => i.ToString(CultureInfo.InvariantCulture),
        long l => l.ToString(CultureInfo.InvariantCulture),
        _ => throw new NotSupportedException($"Key type {typeof(TKey)} is not supported."),
    };

    private static ColumnKind KindOfKey(Type keyType) =>
        keyType == typeof(string) ? ColumnKind.Text : keyType == typeof(Guid) ? ColumnKind.Guid : ColumnKind.Integer;

    private static ColumnProperty DataColumn(string collectionName, PropertyInfo clr, string column)
    {
        Type type = clr.PropertyType;
        Type? underlying = Nullable.GetUnderlyingType(type);
        Type valueType = underlying ?? type;
        bool nullable = underlying is not null || !type.IsValueType;
        ColumnKind? kind = valueType == typeof(string) ? ColumnKind.Text
            : valueType == typeof(bool) ? ColumnKind.Boolean
            : valueType == typeof(float) || valueType == typeof(double) ? ColumnKind.Real
            : valueType == typeof(byte) || valueType == typeof(sbyte) || valueType == typeof(short) || valueType == typeof(ushort)
                || valueType == typeof(int) || valueType == typeof(uint) || valueType == typeof(long) ? ColumnKind.Integer
            : valueType == typeof(DateTime) ? ColumnKind.DateTime
            : valueType == typeof(DateTimeOffset) ? ColumnKind.DateTimeOffset
            : valueType == typeof(Guid) ? ColumnKind.Guid
            : null;
        if (kind is null)
        {
            throw new NotSupportedException(
                $"Collection '{collectionName}': data property {clr.Name} is of type {type}, which the Muvera connector does not store; supported: string, bool, " +
                "byte, sbyte, short, ushort, int, uint, long, float, double, DateTime, DateTimeOffset, Guid and their nullable forms.");
        }

        return new ColumnProperty(clr, column, kind.Value, valueType, nullable);
    }

    private static VectorProperty VectorOf(string collectionName, string schema, PropertyInfo clr, VectorStoreVectorProperty property, IEmbeddingGenerator? fallbackGenerator)
    {
        if (property.Dimensions <= 0)
        {
            throw new ArgumentException(
                $"Collection '{collectionName}': vector property {clr.Name} has {property.Dimensions} dimensions; give the token dimension (for example [VectorStoreVector(384)]).", schema);
        }

        if (property.DistanceFunction is { } distance && distance != MuveraDistanceFunction.MaxSim)
        {
            throw new NotSupportedException(
                $"Collection '{collectionName}': vector property {clr.Name} asks for distance function \"{distance}\"; the Muvera connector compares multi-vectors by \"{MuveraDistanceFunction.MaxSim}\" (Chamfer) only.");
        }

        if (property.IndexKind is { } indexKind && indexKind != IndexKind.Flat && indexKind != IndexKind.Hnsw)
        {
            throw new NotSupportedException(
                $"Collection '{collectionName}': vector property {clr.Name} asks for index kind \"{indexKind}\"; the Muvera connector's FDE index is chosen by MuveraCollectionOptions.Backend (Flat or Hnsw here only document the choice).");
        }

        IEmbeddingGenerator? generator = property.EmbeddingGenerator ?? fallbackGenerator;
        if (clr.PropertyType == typeof(MultiVectorEmbedding))
        {
            return new VectorProperty(clr, property.Dimensions, isText: false, generator);
        }

        if (clr.PropertyType == typeof(string))
        {
            if (generator is not IEmbeddingGenerator<string, MultiVectorEmbedding>)
            {
                throw new InvalidOperationException(
                    $"Collection '{collectionName}': vector property {clr.Name} is a string, so it needs an IEmbeddingGenerator<string, MultiVectorEmbedding> " +
                    $"(for example Muvera.Onnx's OnnxMultiVectorEmbeddingGenerator) on the property, the definition, the collection or the store; {(generator is null ? "none is set" : $"{generator.GetType()} is set")}.");
            }

            return new VectorProperty(clr, property.Dimensions, isText: true, generator);
        }

        throw new NotSupportedException(
            $"Collection '{collectionName}': vector property {clr.Name} is of type {clr.PropertyType}; the Muvera connector stores MultiVectorEmbedding (token vectors) or string (encoded by the embedding generator).");
    }
}
