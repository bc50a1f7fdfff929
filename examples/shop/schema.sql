-- The shop's schema. Run as the tables' owner; the application connects as
-- a role that is not the owner and has no BYPASSRLS. Every tenant table is
-- keyed by (tenant_id, id), so foreign keys cannot cross tenants.

CREATE TABLE currencies (
    code text PRIMARY KEY,
    name text NOT NULL
);

CREATE TABLE customers (
    tenant_id uuid NOT NULL,
    id bigint NOT NULL,
    name text NOT NULL,
    email text NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email)
);

CREATE TABLE categories (
    tenant_id uuid NOT NULL,
    id bigint NOT NULL,
    parent_id bigint,
    name text NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, parent_id) REFERENCES categories (tenant_id, id)
);

CREATE TABLE products (
    tenant_id uuid NOT NULL,
    id bigint NOT NULL,
    category_id bigint NOT NULL,
    sku text NOT NULL,
    name text NOT NULL,
    price_cents bigint NOT NULL,
    attrs jsonb NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, sku),
    FOREIGN KEY (tenant_id, category_id) REFERENCES categories (tenant_id, id)
);

CREATE TABLE orders (
    tenant_id uuid NOT NULL,
    id bigint NOT NULL,
    customer_id bigint NOT NULL,
    status text NOT NULL DEFAULT 'open',
    currency text NOT NULL REFERENCES currencies (code),
    placed_on date NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE order_lines (
    tenant_id uuid NOT NULL,
    order_id bigint NOT NULL,
    line_no int NOT NULL,
    product_id bigint NOT NULL,
    qty int NOT NULL,
    price_cents bigint NOT NULL,
    PRIMARY KEY (tenant_id, order_id, line_no),
    FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id)
);

CREATE TABLE payments (
    tenant_id uuid NOT NULL,
    id bigint NOT NULL,
    order_id bigint NOT NULL,
    amount_cents bigint NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX ON orders (tenant_id, customer_id);
CREATE INDEX ON order_lines (tenant_id, product_id);
CREATE INDEX ON payments (tenant_id, order_id);
CREATE INDEX ON products (tenant_id, category_id);
